import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ErrorNotice } from '../components/ui';
import {
  containerChanges,
  fieldHint,
  FieldErrors,
  FormResult,
  limitFields,
  LimitFields,
  ManagedContainer,
  ManagedService,
  serviceChanges,
  serviceFields,
  ServiceFields,
} from './manage-form';

type Kind = 'bytes' | 'rate' | 'seconds';

/** What every field of the forms is given: its label (also its name), its text, its problem, and its handlers. */
interface FieldProps {
  label: string;
  value: string;
  error?: string;
  onInput: (value: string) => void;
  onBlur: () => void;
}

/** The attributes a field's control gets from `Field`: its name, value, handlers and the tie to its help. */
interface ControlProps {
  name: string;
  value: string;
  'aria-invalid'?: 'true';
  'aria-describedby': string;
  onInput: (event: Event) => void;
  onBlur: () => void;
}

/** A labelled control with its help, or its problem, beneath it and tied to it (screen readers read it with the field). */
function Field({ label, value, error, onInput, onBlur, help, control }: FieldProps & { help: string; control: (props: ControlProps) => ComponentChildren }) {
  const id = useId();
  return (
    <label>
      {label}
      {control({
        name: label,
        value,
        'aria-invalid': error ? 'true' : undefined,
        'aria-describedby': `${id}-help`,
        onInput: (event) => onInput((event.target as HTMLInputElement | HTMLTextAreaElement).value),
        onBlur,
      })}
      <small id={`${id}-help`} class={error ? 'field-error' : undefined}>
        {error ?? help}
      </small>
    </label>
  );
}

/** A text field for a limit, with the parsed value spelled out beneath and the problem, if any, tied to it. */
function LimitInput({ kind, example, ...field }: FieldProps & { kind: Kind; example: string }) {
  const hint = field.error ? null : fieldHint(kind, field.value);
  return (
    <Field
      {...field}
      help={`${hint ?? ''}${hint ? ' · ' : ''}e.g. ${example}; empty for no limit`}
      control={(props) => <input {...props} inputMode="text" autoComplete="off" spellcheck={false} placeholder="no limit" />}
    />
  );
}

function DateInput(field: FieldProps) {
  return <Field {...field} help="UTC; empty for no bound" control={(props) => <input type="datetime-local" {...props} />} />;
}

/**
 * The shared life of a management form: fields, which ones were touched (their errors show as you go; all show on
 * submit), the PATCH of only what changed, and the problem the API answers with when it refuses.
 */
function useManagedForm<F extends LimitFields>(initial: F, check: (fields: F) => FormResult<F>, save: (body: Record<string, unknown>) => Promise<void>) {
  const [fields, setFields] = useState(initial);
  const [touched, setTouched] = useState<Partial<Record<keyof F, boolean>>>({});
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => setFields(initial), [JSON.stringify(initial)]);
  const result = check(fields);
  const shown: FieldErrors<F> = Object.fromEntries(Object.entries(result.errors).filter(([name]) => submitted || touched[name as keyof F])) as FieldErrors<F>;
  const set =
    <K extends keyof F>(name: K) =>
    (value: F[K]) => {
      setFields((current) => ({ ...current, [name]: value }));
      setSaved(null);
    };
  const blur = (name: keyof F) => () => setTouched((current) => ({ ...current, [name]: true }));
  const submit = async (event: Event) => {
    event.preventDefault();
    setSubmitted(true);
    setError(null);
    setSaved(null);
    if (Object.keys(result.errors).length) {
      form.current?.querySelector<HTMLInputElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    if (Object.keys(result.body).length === 0) {
      setSaved('Nothing to save: no value was changed.');
      return;
    }
    setBusy(true);
    try {
      await save(result.body);
      setSaved(`Saved: ${Object.keys(result.body).join(', ')}.`);
      setSubmitted(false);
      setTouched({});
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const reset = () => {
    setFields(initial);
    setTouched({});
    setSubmitted(false);
    setError(null);
    setSaved(null);
  };
  return { fields, shown, set, blur, submit, reset, busy, error, setError, saved, form, changed: Object.keys(result.body).length };
}

function Feedback({ error, saved, onDismiss }: { error: unknown; saved: string | null; onDismiss: () => void }) {
  const details = error instanceof ApiError && Array.isArray(error.problem.errors) ? (error.problem.errors as unknown[]).map(String) : [];
  return (
    <>
      <ErrorNotice error={error} onDismiss={onDismiss} />
      {details.length > 0 && (
        <ul class="field-error" aria-label="What the API refused">
          {details.map((detail) => (
            <li key={detail}>{detail}</li>
          ))}
        </ul>
      )}
      <p role="status" class={saved ? 'notice ok' : 'sr-only'}>
        {saved ?? ''}
      </p>
    </>
  );
}

function FormButtons({ busy, changed, onReset, children }: { busy: boolean; changed: number; onReset: () => void; children?: ComponentChildren }) {
  return (
    <div class="actions manage-buttons">
      <button type="submit" disabled={busy}>
        {busy ? 'Saving…' : changed ? `Save ${changed} change${changed > 1 ? 's' : ''}` : 'Save'}
      </button>
      <button type="button" class="secondary" onClick={onReset} disabled={busy}>
        Reset
      </button>
      {children}
    </div>
  );
}

type ManagedForm<F extends LimitFields> = ReturnType<typeof useManagedForm<F>>;

/** A management form: what the API said above the fields, the save and reset buttons below them. */
function ManageForm<F extends LimitFields>({ state, label, children }: { state: ManagedForm<F>; label: string; children: ComponentChildren }) {
  return (
    <form class="manage" ref={state.form} onSubmit={state.submit} noValidate aria-label={label}>
      <Feedback error={state.error} saved={state.saved} onDismiss={() => state.setError(null)} />
      {children}
      <FormButtons busy={state.busy} changed={state.changed} onReset={state.reset} />
    </form>
  );
}

/** The three quotas a container and a service both have; `examples` are the hints' sample values (disk, ingest, runtime). */
function QuotaInputs<F extends LimitFields>({ state, examples }: { state: ManagedForm<F>; examples: [disk: string, ingest: string, jobruntime: string] }) {
  const { fields, shown, set, blur } = state;
  return (
    <>
      <LimitInput
        label="Disk quota"
        kind="bytes"
        example={examples[0]}
        value={fields.diskQuota}
        error={shown.diskQuota}
        onInput={set('diskQuota')}
        onBlur={blur('diskQuota')}
      />
      <LimitInput
        label="Monthly ingest quota"
        kind="bytes"
        example={examples[1]}
        value={fields.ingestQuota}
        error={shown.ingestQuota}
        onInput={set('ingestQuota')}
        onBlur={blur('ingestQuota')}
      />
      <LimitInput
        label="Monthly job runtime quota"
        kind="seconds"
        example={examples[2]}
        value={fields.jobruntimeQuota}
        error={shown.jobruntimeQuota}
        onInput={set('jobruntimeQuota')}
        onBlur={blur('jobruntimeQuota')}
      />
      <AppQuotasInput value={fields.appQuotas} error={shown.appQuotas} onInput={set('appQuotas')} onBlur={blur('appQuotas')} />
    </>
  );
}

/** Monthly limits on the application's own metrics (app/<name>, POST /services/:id/usage): one `name = limit` a line. */
function AppQuotasInput(field: Omit<FieldProps, 'label'>) {
  return (
    <Field
      {...field}
      label="Monthly quotas on application metrics"
      help="one metric a line, as the application records it: e.g. pages-rendered = 10000; empty for no limit"
      control={(props) => <textarea {...props} rows={3} spellcheck={false} placeholder="no limit" />}
    />
  );
}

/** Quotas, suspension, time window, access speed and priority of a service (PATCH /services/:id, service:manage). */
export function ServiceManagement({ service, onSaved }: { service: ManagedService; onSaved: (service: ManagedService) => void }) {
  const state = useManagedForm<ServiceFields>(
    serviceFields(service),
    (fields) => serviceChanges(service, fields),
    async (body) => {
      onSaved(await api<ManagedService>(`/services/${service.id}`, { method: 'PATCH', body }));
    },
  );
  const { fields, shown, set, blur } = state;
  return (
    <ManageForm state={state} label={`Manage service ${service.name}`}>
      <fieldset>
        <legend>Quotas</legend>
        <div class="manage-grid">
          <QuotaInputs state={state} examples={['5 GiB', '500 GB', '10 h']} />
          <LimitInput
            label="Access speed"
            kind="rate"
            example="256 KiB/s"
            value={fields.accessSpeed}
            error={shown.accessSpeed}
            onInput={set('accessSpeed')}
            onBlur={blur('accessSpeed')}
          />
        </div>
      </fieldset>
      <fieldset>
        <legend>Availability</legend>
        <div class="manage-grid">
          <DateInput label="Available from" value={fields.startsAt} error={shown.startsAt} onInput={set('startsAt')} onBlur={blur('startsAt')} />
          <DateInput label="Available until" value={fields.endsAt} error={shown.endsAt} onInput={set('endsAt')} onBlur={blur('endsAt')} />
        </div>
        <label class="check">
          <input type="checkbox" checked={fields.suspended} onChange={(event) => set('suspended')((event.target as HTMLInputElement).checked)} />
          Suspended (read-only: uploads, changes and jobs are refused)
        </label>
        <label class="check">
          <input type="checkbox" checked={fields.priority} onChange={(event) => set('priority')((event.target as HTMLInputElement).checked)} />
          Priority (its tasks run on the priority queue)
        </label>
      </fieldset>
    </ManageForm>
  );
}

/** Limits and suspension of a whole container (PATCH /containers/:id): the provider's alone. */
export function ContainerManagement({ container, onSaved }: { container: ManagedContainer; onSaved: (container: ManagedContainer) => void }) {
  const state = useManagedForm<LimitFields>(
    limitFields(container),
    (fields) => containerChanges(container, fields),
    async (body) => {
      onSaved(await api<ManagedContainer>(`/containers/${container.id}`, { method: 'PATCH', body }));
    },
  );
  const { fields, set } = state;
  return (
    <ManageForm state={state} label={`Manage container ${container.name}`}>
      <fieldset>
        <legend>Limits on all its services together</legend>
        <div class="manage-grid">
          <QuotaInputs state={state} examples={['1 TiB', '2 TB', '100 h']} />
        </div>
        <label class="check">
          <input type="checkbox" checked={fields.suspended} onChange={(event) => set('suspended')((event.target as HTMLInputElement).checked)} />
          Suspended (every service inside is read-only)
        </label>
      </fieldset>
    </ManageForm>
  );
}
