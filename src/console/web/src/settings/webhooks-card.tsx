import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { formatDate } from '../format';
import { ErrorNotice } from '../components/ui';
import { copyText } from '../keys/clipboard';
import { ConfirmDialog } from '../components/confirm-dialog';
import { errorsToFields, validateWebhook, WEBHOOK_EVENTS, WebhookDraft, WebhookField } from './service-form';
import { FieldErrors } from './step-editor';

export interface Webhook {
  id: string;
  serviceId: string;
  url: string;
  events: string[];
  createdAt: string;
}

/**
 * The service's webhooks: URLs told about finished jobs (signed with a secret shown once), and the targets of the
 * `webhook` task. Listed with service:read, added and removed with service:update.
 */
export function WebhooksCard(props: { serviceId: string; webhooks: Webhook[]; canEdit: boolean; onChange: (webhooks: Webhook[]) => void }) {
  const [draft, setDraft] = useState<WebhookDraft>({ url: '', events: ['succeeded', 'failed'] });
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<Partial<Record<WebhookField, string>>>({});
  const [created, setCreated] = useState<{ url: string; secret: string } | null>(null);
  const [target, setTarget] = useState<Webhook | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState('');
  const errors = { ...serverErrors, ...(submitted ? validateWebhook(draft) : {}) };

  const add = async (event: Event) => {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    if (Object.keys(validateWebhook(draft)).length) {
      document.getElementById('wh-url')?.focus();
      return;
    }
    setBusy(true);
    try {
      const hook = await api<Webhook & { secret: string }>(`/services/${props.serviceId}/webhooks`, {
        method: 'POST',
        body: { url: draft.url.trim(), events: draft.events },
      });
      const { secret, ...visible } = hook;
      props.onChange([...props.webhooks, visible]);
      setCreated({ url: hook.url, secret });
      setDraft({ url: '', events: ['succeeded', 'failed'] });
      setSubmitted(false);
      setStatus('');
    } catch (caught) {
      const list = caught instanceof ApiError && Array.isArray(caught.problem.errors) ? (caught.problem.errors as string[]) : [];
      const placed = errorsToFields(list, ['url', 'events'] as const);
      if (Object.keys(placed.fields).length) setServerErrors(placed.fields);
      else setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!target) return;
    setBusy(true);
    try {
      await api(`/services/${props.serviceId}/webhooks/${target.id}`, { method: 'DELETE' });
      props.onChange(props.webhooks.filter((hook) => hook.id !== target.id));
      setStatus(`Removed ${target.url}.`);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
      setTarget(null);
    }
  };

  return (
    <div class="webhooks">
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      {props.webhooks.length === 0 ? (
        <p class="muted">No webhooks yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Address</th>
                <th scope="col">Told about</th>
                <th scope="col" class="optional">
                  Added
                </th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {props.webhooks.map((hook) => (
                <tr key={hook.id}>
                  <td class="wh-url">
                    {hook.url}
                    <small class="key-meta">id {hook.id}</small>
                  </td>
                  <td>{hook.events.length ? hook.events.join(', ') : <span class="muted">webhook task only</span>}</td>
                  <td class="optional">{formatDate(hook.createdAt)}</td>
                  <td>
                    {props.canEdit && (
                      <button type="button" class="danger" aria-label={`Remove webhook ${hook.url}`} onClick={() => setTarget(hook)}>
                        Remove
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {status && (
        <p class="muted" role="status">
          {status}
        </p>
      )}

      {created && (
        <div class="notice ok wh-secret" role="status">
          <div>
            <p>
              Webhook added for {created.url}. Its signing secret is shown only now: check the <code>MServe-Signature</code> header with it.
            </p>
            <label>
              Signing secret
              <input class="secret" readOnly value={created.secret} onFocus={(event) => (event.target as HTMLInputElement).select()} />
            </label>
            <div class="actions">
              <button
                type="button"
                onClick={async () => setStatus((await copyText(created.secret)) ? 'Secret copied.' : 'Copying failed: select it and copy by hand.')}
              >
                Copy secret
              </button>
              <button type="button" class="secondary" onClick={() => setCreated(null)}>
                Done
              </button>
            </div>
          </div>
        </div>
      )}

      {props.canEdit ? (
        <form class="wh-form" onSubmit={add} noValidate>
          <h3>Add a webhook</h3>
          <label>
            Address
            <input
              id="wh-url"
              type="url"
              value={draft.url}
              placeholder="https://example.org/mserve-events"
              aria-invalid={Boolean(errors.url)}
              aria-describedby={errors.url ? 'wh-url-errors' : undefined}
              onInput={(event) => {
                setDraft({ ...draft, url: (event.target as HTMLInputElement).value });
                setServerErrors({});
              }}
            />
          </label>
          <FieldErrors id="wh-url-errors" messages={errors.url ? [errors.url] : undefined} />
          <fieldset aria-describedby={errors.events ? 'wh-events-errors' : 'wh-events-hint'}>
            <legend>Tell it when a job has</legend>
            <div class="pf-checks">
              {WEBHOOK_EVENTS.map((name) => (
                <label class="check" key={name}>
                  <input
                    type="checkbox"
                    checked={draft.events.includes(name)}
                    onChange={(event) => {
                      setDraft({
                        ...draft,
                        events: (event.target as HTMLInputElement).checked ? [...draft.events, name] : draft.events.filter((each) => each !== name),
                      });
                      setServerErrors({});
                    }}
                  />
                  {name}
                </label>
              ))}
            </div>
            <small id="wh-events-hint" class="muted">
              None: it is only called by steps of the webhook task.
            </small>
            <FieldErrors id="wh-events-errors" messages={errors.events ? [errors.events] : undefined} />
          </fieldset>
          <button type="submit" disabled={busy}>
            {busy ? 'Adding…' : 'Add webhook'}
          </button>
        </form>
      ) : (
        <p class="muted">Adding and removing webhooks needs service:update.</p>
      )}

      <ConfirmDialog
        open={Boolean(target)}
        title="Remove this webhook?"
        confirmLabel="Remove"
        busyLabel="Removing…"
        onConfirm={remove}
        onClose={() => setTarget(null)}
      >
        <p>
          <strong>{target?.url}</strong> is no longer told about jobs, and steps of the webhook task that call it will fail.
        </p>
      </ConfirmDialog>
    </div>
  );
}
