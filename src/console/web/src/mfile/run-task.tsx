import { useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, describeError } from '../api';
import {
  buildJobRequest,
  errorsFromProblem,
  plainText,
  FieldErrors,
  fieldsOf,
  FormValues,
  groupTasks,
  initialValues,
  MANUAL_PIPELINE,
  OptionField,
  QUEUE_FIELD,
} from './task-form';
import type { Job, Mfile, TaskDefinition } from './types';

const fieldId = (name: string) => `run-task-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/**
 * "Run a task": the task picker lists the registry's tasks (those that take this file's type first), and the
 * chosen task's options become inputs with their labels, hints, defaults and checks (task-form.ts). The job it
 * creates is handed to the page, which shows it and follows it live.
 */
export function RunTask({ mfile, tasks, onCreated }: { mfile: Mfile; tasks: TaskDefinition[]; onCreated: (jobs: Job[]) => void }) {
  const { fitting, others } = useMemo(() => groupTasks(tasks, mfile.mimetype), [tasks, mfile.mimetype]);
  const [choice, setChoice] = useState<string>(() => fitting[0]?.name ?? others[0]?.name ?? MANUAL_PIPELINE);
  const task = choice === MANUAL_PIPELINE ? null : (tasks.find((candidate) => candidate.name === choice) ?? null);
  const fields = useMemo(() => (task ? fieldsOf(task) : []), [task]);
  const [values, setValues] = useState<FormValues>(() => initialValues(fields));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [checked, setChecked] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [started, setStarted] = useState<Job[]>([]);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const choose = (name: string) => {
    const next = name === MANUAL_PIPELINE ? null : (tasks.find((candidate) => candidate.name === name) ?? null);
    setChoice(name);
    setValues(initialValues(next ? fieldsOf(next) : []));
    setErrors({});
    setChecked(false);
    setProblem(null);
  };

  const set = (name: string, value: string) => {
    const next = { ...values, [name]: value };
    setValues(next);
    // once the form was sent, mistakes clear (and new ones show) as they are typed
    if (checked) setErrors(buildJobRequest(task, [mfile.id], next).errors ?? {});
  };

  const focusFirstError = (found: FieldErrors) => {
    const first = [...fields.map((field) => field.name), QUEUE_FIELD].find((name) => found[name]);
    if (first) form.current?.querySelector<HTMLElement>(`#${fieldId(first)}`)?.focus();
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setChecked(true);
    setProblem(null);
    const built = buildJobRequest(task, [mfile.id], values);
    if (built.errors) {
      setErrors(built.errors);
      if (built.errors[QUEUE_FIELD]) (form.current?.querySelector('details') as HTMLDetailsElement | null)?.setAttribute('open', '');
      focusFirstError(built.errors);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const created = await api<Job | { items: Job[] }>('/jobs', { method: 'POST', body: built.body });
      const jobs = 'items' in created ? created.items : [created];
      setStarted(jobs);
      onCreated(jobs);
    } catch (caught) {
      const { fieldErrors, rest } = caught instanceof ApiError ? errorsFromProblem(caught.problem.errors, fields) : { fieldErrors: {}, rest: [] };
      setErrors(fieldErrors);
      setProblem(Object.keys(fieldErrors).length && rest.length === 0 ? 'Some options were refused: see below.' : describeError(caught));
      focusFirstError(fieldErrors);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} class="run-task" onSubmit={submit} noValidate aria-label="Run a task">
      <div class="field">
        <label for={fieldId('task')}>Task</label>
        <select id={fieldId('task')} value={choice} onChange={(event) => choose((event.target as HTMLSelectElement).value)} aria-describedby="run-task-about">
          {fitting.length > 0 && (
            <optgroup label={`For ${mfile.mimetype}`}>
              {fitting.map((candidate) => (
                <option key={candidate.name} value={candidate.name}>
                  {candidate.name}
                </option>
              ))}
            </optgroup>
          )}
          <optgroup label="Pipelines">
            <option value={MANUAL_PIPELINE}>The service's manual pipeline</option>
          </optgroup>
          {others.length > 0 && (
            <optgroup label="Other tasks (may not take this type)">
              {others.map((candidate) => (
                <option key={candidate.name} value={candidate.name}>
                  {candidate.name}
                </option>
              ))}
            </optgroup>
          )}
        </select>
      </div>
      <p id="run-task-about" class="muted run-task-about">
        {task ? plainText(task.description) : "Runs the steps of the service profile's manual pipeline on this file (set in the service settings)."}
        {task && Object.keys(task.outputs).length > 0 && ` Makes: ${Object.keys(task.outputs).join(', ')}.`}
      </p>
      {fields.length > 0 && (
        <fieldset class="run-task-options">
          <legend>Options</legend>
          {fields.map((field) => (
            <OptionInput
              key={`${choice}-${field.name}`}
              field={field}
              value={values[field.name] ?? ''}
              error={errors[field.name]}
              onInput={(value) => set(field.name, value)}
            />
          ))}
        </fieldset>
      )}
      {task && fields.length === 0 && <p class="muted">This task has no options.</p>}
      <details class="run-task-advanced">
        <summary>Queue</summary>
        <div class="field">
          <label for={fieldId(QUEUE_FIELD)}>Queue (optional)</label>
          <input
            id={fieldId(QUEUE_FIELD)}
            list="run-task-queues"
            value={values[QUEUE_FIELD] ?? ''}
            placeholder={task?.defaultQueue ?? 'normal'}
            aria-invalid={errors[QUEUE_FIELD] ? 'true' : undefined}
            aria-describedby={`${fieldId(QUEUE_FIELD)}-hint${errors[QUEUE_FIELD] ? ` ${fieldId(QUEUE_FIELD)}-error` : ''}`}
            onInput={(event) => set(QUEUE_FIELD, (event.target as HTMLInputElement).value)}
          />
          <small id={`${fieldId(QUEUE_FIELD)}-hint`} class="field-hint">
            Empty: the task's default queue ({task?.defaultQueue ?? 'normal'}), or priority for a priority service. hardware.&lt;tag&gt; runs on a dedicated
            device.
          </small>
          {errors[QUEUE_FIELD] && (
            <span id={`${fieldId(QUEUE_FIELD)}-error`} class="field-error">
              {errors[QUEUE_FIELD]}
            </span>
          )}
        </div>
        <datalist id="run-task-queues">
          <option value="normal" />
          <option value="priority" />
        </datalist>
      </details>
      {problem && (
        <div class="notice error" role="alert">
          {problem}
        </div>
      )}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Starting…' : 'Run task'}
        </button>
        {started.length > 0 && (
          <span role="status" class="run-task-started">
            Started{' '}
            {started.map((job, index) => (
              <span key={job.id}>
                {index > 0 && ', '}
                <a href={`/jobs/${job.id}`}>{job.task}</a>
              </span>
            ))}
            : follow it in the jobs above.
          </span>
        )}
      </div>
    </form>
  );
}

function OptionInput({ field, value, error, onInput }: { field: OptionField; value: string; error?: string; onInput: (value: string) => void }) {
  const id = fieldId(field.name);
  const described = `${id}-hint${error ? ` ${id}-error` : ''}`;
  const common = { id, name: field.name, required: field.required, 'aria-invalid': error ? ('true' as const) : undefined, 'aria-describedby': described };
  return (
    <div class="field">
      <label for={id}>{field.label}</label>
      {field.kind === 'select' ? (
        <select {...common} value={value} onChange={(event) => onInput((event.target as HTMLSelectElement).value)}>
          {field.choices.map((choice) => (
            <option key={choice} value={choice}>
              {choice}
            </option>
          ))}
        </select>
      ) : field.kind === 'number' ? (
        <input
          {...common}
          type="number"
          inputMode={field.integer ? 'numeric' : 'decimal'}
          min={field.min}
          max={field.max}
          step={field.step}
          value={value}
          onInput={(event) => onInput((event.target as HTMLInputElement).value)}
        />
      ) : (
        <input
          {...common}
          type="text"
          inputMode={field.name === 'url' ? 'url' : 'text'}
          maxLength={field.maxLength}
          autoComplete="off"
          spellcheck={false}
          value={value}
          onInput={(event) => onInput((event.target as HTMLInputElement).value)}
        />
      )}
      <small id={`${id}-hint`} class="field-hint">
        {field.hint}
      </small>
      {error && (
        <span id={`${id}-error`} class="field-error">
          {error}
        </span>
      )}
    </div>
  );
}
