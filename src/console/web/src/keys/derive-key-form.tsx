import { useMemo, useState } from 'preact/hooks';
import { api, ApiError, KeyView } from '../api';
import { formatDate } from '../format';
import { ErrorNotice } from '../components/ui';
import {
  buildDeriveBody,
  DeriveDraft,
  DeriveErrors,
  emptyDraft,
  expiryIn,
  grantableActions,
  grantedActions,
  isoToLocalInput,
  matchingPreset,
  offeredRoles,
  PRESETS,
  presetFits,
  problemField,
  RESOURCE_LABELS,
  ResourceType,
  scopeTypesBelow,
  validateDerive,
} from './derive-form';
import { ScopePicker } from './scope-picker';

export type DerivedKey = KeyView & { key: string };

/** Groups single actions by what they act on, for a readable checklist. */
function groupActions(actions: string[]): Array<[string, string[]]> {
  const groups = new Map<string, string[]>();
  for (const action of actions) {
    const [subject] = action.split(':');
    groups.set(subject, [...(groups.get(subject) ?? []), action]);
  }
  return [...groups];
}

function FieldError({ id, message }: { id: string; message?: string }) {
  return message ? (
    <p class="field-error" id={id}>
      {message}
    </p>
  ) : null;
}

/** Derive a sub-key of the acting key: what it may do, where, until when, and a note. */
export function DeriveKeyForm(props: { parent: KeyView; parentName: string | null; onDerived: (key: DerivedKey, resourceName: string | null) => void }) {
  const { parent } = props;
  const [draft, setDraft] = useState<DeriveDraft>(() => ({ ...emptyDraft(), resourceType: scopeTypesBelow(parent.resource.type)[0] ?? 'mfile' }));
  const [chosenName, setChosenName] = useState<string | null>(null);
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<DeriveErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const roles = useMemo(() => offeredRoles(parent.actions), [parent.actions]);
  const actions = useMemo(() => grantableActions(parent.actions), [parent.actions]);
  const presets = PRESETS.filter((preset) => presetFits(preset, parent.actions));
  const belowTypes = scopeTypesBelow(parent.resource.type);
  const parentKey = { resource: { type: parent.resource.type as ResourceType, id: parent.resource.id }, actions: parent.actions, expiresAt: parent.expiresAt };
  const local = validateDerive(draft, parentKey);
  const errors: DeriveErrors = submitted ? { ...serverErrors, ...local } : serverErrors;
  const granted = grantedActions(draft);
  const preset = matchingPreset(draft);

  const update = (change: Partial<DeriveDraft>) => {
    setDraft((before) => ({ ...before, ...change }));
    setServerErrors({});
  };
  const toggle = (list: string[], value: string, on: boolean) => (on ? [...new Set([...list, value])] : list.filter((item) => item !== value));

  const submit = async (event: Event) => {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    const found = validateDerive(draft, parentKey);
    if (Object.keys(found).length) {
      const first = (['permissions', 'resource', 'expiresAt', 'label'] as const).find((field) => found[field]);
      document.getElementById(`derive-${first}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      const derived = await api<DerivedKey>('/keys', { method: 'POST', body: buildDeriveBody(draft) });
      props.onDerived(derived, draft.scope === 'own' ? props.parentName : chosenName);
      setDraft({ ...emptyDraft(), resourceType: draft.resourceType });
      setChosenName(null);
      setSubmitted(false);
    } catch (caught) {
      const field = caught instanceof ApiError ? problemField(caught.problem) : null;
      if (field && caught instanceof ApiError) setServerErrors({ [field]: caught.problem.detail ?? caught.message });
      else setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const parentExpiry = parent.expiresAt ? isoToLocalInput(parent.expiresAt) : undefined;
  return (
    <form class="derive-form" onSubmit={submit} noValidate>
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      <fieldset aria-describedby={errors.permissions ? 'derive-permissions-error' : undefined}>
        <legend id="derive-permissions" tabIndex={-1}>
          What the key may do
        </legend>
        {presets.length > 0 && (
          <div class="presets" role="group" aria-label="Ready-made permission sets">
            {presets.map((item) => (
              <button
                key={item.id}
                type="button"
                class={preset === item.id ? undefined : 'secondary'}
                aria-pressed={preset === item.id}
                title={item.description}
                onClick={() => update({ roles: item.roles, actions: item.actions })}
              >
                {item.label}
              </button>
            ))}
          </div>
        )}
        {preset && <p class="muted">{PRESETS.find((item) => item.id === preset)!.description}</p>}
        <div class="role-grid">
          {roles.map((role) => (
            <label class="check role" key={role.name}>
              <input
                type="checkbox"
                name="role"
                value={role.name}
                checked={draft.roles.includes(role.name)}
                onChange={(event) => update({ roles: toggle(draft.roles, role.name, (event.target as HTMLInputElement).checked) })}
              />
              <span>
                <strong>{role.name}</strong>
                <small>{role.description}</small>
              </span>
            </label>
          ))}
        </div>
        <details class="single-actions">
          <summary>Single actions{draft.actions.length ? ` (${draft.actions.length} chosen)` : ''}</summary>
          <p class="muted">For keys narrower than any role, or to add to one.</p>
          {groupActions(actions).map(([subject, list]) => (
            <fieldset key={subject} class="action-group">
              <legend>{subject}</legend>
              {list.map((action) => (
                <label class="check" key={action}>
                  <input
                    type="checkbox"
                    name="action"
                    value={action}
                    checked={draft.actions.includes(action)}
                    onChange={(event) => update({ actions: toggle(draft.actions, action, (event.target as HTMLInputElement).checked) })}
                  />
                  {action.split(':')[1]}
                </label>
              ))}
            </fieldset>
          ))}
        </details>
        <p class="granted" aria-live="polite">
          {granted.length ? (
            <>
              The key will hold {granted.length} action{granted.length > 1 ? 's' : ''}:{' '}
              <span class="action-chips">
                {granted.map((action) => (
                  <code key={action}>{action}</code>
                ))}
              </span>
            </>
          ) : (
            'No permissions chosen yet.'
          )}
        </p>
        <FieldError id="derive-permissions-error" message={errors.permissions} />
      </fieldset>

      <fieldset>
        <legend id="derive-resource" tabIndex={-1}>
          Where it applies
        </legend>
        <label class="check">
          <input type="radio" name="scope" value="own" checked={draft.scope === 'own'} onChange={() => update({ scope: 'own' })} />
          The whole {RESOURCE_LABELS[parent.resource.type as ResourceType].toLowerCase()} your key opens{props.parentName ? ` (${props.parentName})` : ''}
        </label>
        {belowTypes.length > 0 && (
          <label class="check">
            <input type="radio" name="scope" value="other" checked={draft.scope === 'other'} onChange={() => update({ scope: 'other' })} />
            Only part of it: a{' '}
            {belowTypes
              .slice(0, 3)
              .map((type) => RESOURCE_LABELS[type].toLowerCase())
              .join(', ')}
            …
          </label>
        )}
        {draft.scope === 'other' && (
          <ScopePicker
            root={{ type: parent.resource.type as ResourceType, id: parent.resource.id, name: props.parentName }}
            resourceType={draft.resourceType}
            resourceId={draft.resourceId}
            chosenName={chosenName}
            invalid={Boolean(errors.resource)}
            errorId={errors.resource ? 'derive-resource-error' : undefined}
            onChange={(choice) => {
              setChosenName(choice.name);
              update({ resourceType: choice.type, resourceId: choice.id });
            }}
          />
        )}
        <FieldError id="derive-resource-error" message={errors.resource} />
      </fieldset>

      <fieldset>
        <legend>Until when</legend>
        <div class="keys-row">
          <label>
            Expires
            <input
              id="derive-expiresAt"
              type="datetime-local"
              value={draft.expiresAt}
              max={parentExpiry}
              aria-invalid={Boolean(errors.expiresAt)}
              aria-describedby={`derive-expiry-hint${errors.expiresAt ? ' derive-expiresAt-error' : ''}`}
              onInput={(event) => update({ expiresAt: (event.target as HTMLInputElement).value })}
            />
          </label>
          <div class="actions quick-expiry" role="group" aria-label="Quick expiry">
            {[1, 7, 30].map((days) => (
              <button key={days} type="button" class="secondary" onClick={() => update({ expiresAt: expiryIn(days, parentKey) })}>
                {days === 1 ? '1 day' : `${days} days`}
              </button>
            ))}
            <button type="button" class="secondary" onClick={() => update({ expiresAt: '' })}>
              {parent.expiresAt ? 'With my key' : 'Never'}
            </button>
          </div>
        </div>
        <p class="muted" id="derive-expiry-hint">
          {draft.expiresAt
            ? 'The key stops working at this time.'
            : parent.expiresAt
              ? `Left empty, it expires with your key: ${formatDate(parent.expiresAt)}.`
              : 'Left empty, it never expires (revoke it when done).'}
        </p>
        <FieldError id="derive-expiresAt-error" message={errors.expiresAt} />
      </fieldset>

      <label>
        Label
        <input
          id="derive-label"
          value={draft.label}
          maxLength={255}
          placeholder="e.g. shared with the press office"
          aria-invalid={Boolean(errors.label)}
          aria-describedby={errors.label ? 'derive-label-error' : undefined}
          onInput={(event) => update({ label: (event.target as HTMLInputElement).value })}
        />
      </label>
      <FieldError id="derive-label-error" message={errors.label} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </div>
    </form>
  );
}
