import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ErrorNotice } from '../components/ui';
import { CustomPropertiesEditor, customFieldId } from './custom-properties-editor';
import { validateCustomRows } from './custom-properties';
import { buildServicePatch, errorsToFields, propertiesDraft, PropertiesDraft, PropertiesField, ServiceView, validateProperties } from './service-form';
import { FieldErrors } from './step-editor';

const FIELDS: PropertiesField[] = ['name', 'description', 'profile', 'properties'];

/**
 * Name, description, the customer's free-form properties and (with service:manage) which of the container's profiles
 * the service runs. Management properties (quotas, suspension, window, speed, priority) live on the usage pages.
 */
export function PropertiesForm(props: {
  service: ServiceView;
  canUpdate: boolean;
  canManage: boolean;
  canListProfiles: boolean;
  onSaved: (service: ServiceView) => void;
}) {
  const { service } = props;
  const [draft, setDraft] = useState<PropertiesDraft>(() => propertiesDraft(service));
  const [serverErrors, setServerErrors] = useState<Partial<Record<PropertiesField, string>>>({});
  const [submitted, setSubmitted] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  // undefined while loading, null when the key cannot list the container's profiles
  const [offered, setOffered] = useState<Array<{ name: string; selectedBy: number }> | null | undefined>(
    props.canManage && props.canListProfiles ? undefined : null,
  );

  useEffect(() => setDraft(propertiesDraft(service)), [service.id, service.updatedAt]);
  useEffect(() => {
    if (!props.canManage || !props.canListProfiles) return;
    api<{ items: Array<{ name: string; selectedBy: number }> }>(`/containers/${service.containerId}/profiles`)
      .then((answer) => setOffered(answer.items))
      .catch(() => setOffered(null));
  }, [service.containerId, props.canManage, props.canListProfiles]);

  const local = validateProperties(draft);
  const errors = { ...serverErrors, ...(submitted ? local : {}) };
  const custom = validateCustomRows(draft.properties);
  // row errors once submitted; a whole-set problem from the form or the server in any case
  const rowErrors = submitted ? custom.rows : [];
  const customGeneral = (submitted ? custom.general : null) ?? serverErrors.properties ?? null;
  const patch = buildServicePatch(service, draft, props.canManage);
  const readOnly = !props.canUpdate;

  const change = (update: Partial<PropertiesDraft>) => {
    setDraft({ ...draft, ...update });
    setServerErrors({});
    setStatus('');
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    const found = validateProperties(draft);
    const first = FIELDS.find((field) => found[field]);
    if (first) {
      const rows = validateCustomRows(draft.properties).rows;
      const row = Math.max(
        0,
        rows.findIndex((each) => each.name || each.value),
      );
      const target = first === 'properties' ? customFieldId(row, rows[row]?.name ? 'name' : 'value') : `sp-${first}`;
      document.getElementById(target)?.focus();
      return;
    }
    if (Object.keys(patch).length === 0) {
      setStatus('Nothing to save.');
      return;
    }
    setBusy(true);
    try {
      const saved = await api<ServiceView>(`/services/${service.id}`, { method: 'PATCH', body: patch });
      props.onSaved(saved);
      setSubmitted(false);
      setStatus('Saved.');
    } catch (caught) {
      const list = caught instanceof ApiError && Array.isArray(caught.problem.errors) ? (caught.problem.errors as string[]) : [];
      const placed = errorsToFields(list, FIELDS);
      if (Object.keys(placed.fields).length) setServerErrors(placed.fields);
      if (!Object.keys(placed.fields).length || placed.general.length) setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const field = (name: PropertiesField) => ({
    id: `sp-${name}`,
    'aria-invalid': Boolean(errors[name]),
    'aria-describedby': errors[name] ? `sp-${name}-errors` : undefined,
  });
  const inOffer = offered?.some((profile) => profile.name === draft.profile) ?? false;

  return (
    <form class="properties-form" onSubmit={save} noValidate>
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      <fieldset disabled={readOnly}>
        <legend class="sr-only">Service properties</legend>
        <label>
          Name
          <input {...field('name')} value={draft.name} maxLength={255} onInput={(event) => change({ name: (event.target as HTMLInputElement).value })} />
        </label>
        <FieldErrors id="sp-name-errors" messages={errors.name ? [errors.name] : undefined} />
        <label>
          Description
          <textarea
            {...field('description')}
            rows={3}
            value={draft.description}
            onInput={(event) => change({ description: (event.target as HTMLTextAreaElement).value })}
          />
        </label>
        <FieldErrors id="sp-description-errors" messages={errors.description ? [errors.description] : undefined} />
        <label>
          Container profile it runs
          {offered === undefined ? (
            <select {...field('profile')} disabled>
              <option>Loading the container’s profiles…</option>
            </select>
          ) : props.canManage && offered ? (
            <select {...field('profile')} value={draft.profile} onChange={(event) => change({ profile: (event.target as HTMLSelectElement).value })}>
              <option value="">None: its own profile (or the default)</option>
              {draft.profile && !inOffer && <option value={draft.profile}>{draft.profile} (not offered by the container)</option>}
              {offered.map((profile) => (
                <option key={profile.name} value={profile.name}>
                  {profile.name} ({profile.selectedBy} service{profile.selectedBy === 1 ? '' : 's'})
                </option>
              ))}
            </select>
          ) : (
            <input
              {...field('profile')}
              value={draft.profile}
              disabled={!props.canManage}
              placeholder="none: its own profile (or the default)"
              spellcheck={false}
              onInput={(event) => change({ profile: (event.target as HTMLInputElement).value })}
            />
          )}
        </label>
        <small class="muted">
          {props.canManage
            ? 'A profile the container offers; while one is chosen, the service’s own profile is not used and cannot be edited.'
            : 'Chosen by the provider (needs service:manage).'}
        </small>
        <FieldErrors id="sp-profile-errors" messages={errors.profile ? [errors.profile] : undefined} />
        <CustomPropertiesEditor
          rows={draft.properties}
          errors={rowErrors}
          general={customGeneral}
          readOnly={readOnly}
          onChange={(rows) => change({ properties: rows })}
        />
      </fieldset>
      {!readOnly && (
        <div class="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : 'Save properties'}
          </button>
          <span class="muted" role="status" aria-live="polite">
            {Object.keys(patch).length ? 'Unsaved changes. ' : ''}
            {status}
          </span>
        </div>
      )}
    </form>
  );
}
