import type { ComponentChildren } from 'preact';
import { formatBytes } from '../format';
import { danglingAfter, fieldDomId, fieldKey, OptionSpec, parseByteSize, PipelineDraft, StepDraft, stepLine, TaskInfo, Trigger } from './profile-draft';

export interface WebhookChoice {
  id: string;
  url: string;
}

/** The messages of one field, announced with it (aria-describedby points here). */
export function FieldErrors({ id, messages }: { id: string; messages?: string[] }) {
  if (!messages?.length) return null;
  return (
    <ul class="field-error inline-errors" id={id}>
      {messages.map((message) => (
        <li key={message}>{message}</li>
      ))}
    </ul>
  );
}

/** A labelled control with its inline errors; `describedBy` ties hint and errors to the control. */
function Field(props: {
  label: string;
  id: string;
  errors?: string[];
  hint?: ComponentChildren;
  children: (aria: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => ComponentChildren;
  class?: string;
}) {
  const errorId = `${props.id}-errors`;
  const hintId = `${props.id}-hint`;
  const describedBy = [props.hint ? hintId : '', props.errors?.length ? errorId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`pf-field ${props.class ?? ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children({ id: props.id, 'aria-invalid': Boolean(props.errors?.length), 'aria-describedby': describedBy })}
      {props.hint && <small id={hintId}>{props.hint}</small>}
      <FieldErrors id={errorId} messages={props.errors} />
    </div>
  );
}

function optionHint(spec: OptionSpec): string {
  if (spec.type === 'integer' || spec.type === 'number') return `${spec.description} (${spec.minimum}–${spec.maximum}, default ${spec.default})`;
  if (spec.type === 'string') return `${spec.description} (default ${spec.default})`;
  return `${spec.description}${spec.default === undefined ? ' (required)' : ` (default ${spec.default})`}`;
}

function sizeHint(raw: string): string | undefined {
  const parsed = parseByteSize(raw);
  return typeof parsed === 'number' && Number.isFinite(parsed) && raw.trim() && !/^\d+$/.test(raw.trim())
    ? `= ${parsed} bytes`
    : typeof parsed === 'number' && parsed >= 1024
      ? `= ${formatBytes(parsed)}`
      : undefined;
}

/**
 * One step of a pipeline: its name, task, the task's options (a form made from the registry), the condition on its
 * input, a queue, and the steps it comes after. Errors sit under the field they concern.
 */
export function StepEditor(props: {
  trigger: Trigger;
  index: number;
  pipeline: PipelineDraft;
  tasks: TaskInfo[];
  webhooks: WebhookChoice[];
  errors: Record<string, string[]>;
  readOnly: boolean;
  /** Collapsed, a step is one line; a step with problems is always open. */
  expanded: boolean;
  onToggle: () => void;
  onRename: (name: string) => void;
  onTask: (task: string) => void;
  onChange: (change: Partial<Omit<StepDraft, 'uid' | 'name' | 'task'>>) => void;
  onMove: (delta: -1 | 1) => void;
  onRemove: () => void;
}) {
  const { trigger, index, pipeline } = props;
  const step = pipeline.steps[index];
  const key = (field?: string) => fieldKey(trigger, index, field);
  const id = (field?: string) => fieldDomId(key(field));
  const errors = (field?: string) => props.errors[key(field)];
  const task = props.tasks.find((each) => each.name === step.task);
  const unknownOptions = Object.keys(step.options).filter((name) => !task || !(name in task.options));
  const others = pipeline.steps
    .filter((_, at) => at !== index)
    .map((each) => each.name)
    .filter((name, at, all) => name && all.indexOf(name) === at);
  const dangling = danglingAfter(pipeline, index);
  const setOption = (name: string, value: string) => props.onChange({ options: { ...step.options, [name]: value } });
  const title = step.name || step.task || `step ${index + 1}`;
  const open = props.expanded || props.readOnly;
  const actions = !props.readOnly && (
    <div class="actions pf-step-actions">
      <button
        type="button"
        class="secondary"
        aria-expanded={props.expanded}
        aria-label={`${props.expanded ? 'Collapse' : 'Edit'} step ${title}`}
        onClick={props.onToggle}
      >
        {props.expanded ? 'Collapse' : 'Edit'}
      </button>
      <button type="button" class="secondary" disabled={index === 0} aria-label={`Move ${title} up`} onClick={() => props.onMove(-1)}>
        Move up
      </button>
      <button type="button" class="secondary" disabled={index === pipeline.steps.length - 1} aria-label={`Move ${title} down`} onClick={() => props.onMove(1)}>
        Move down
      </button>
      <button type="button" class="danger" aria-label={`Remove step ${title}`} onClick={props.onRemove}>
        Remove
      </button>
    </div>
  );

  if (!open) {
    return (
      <fieldset class="pf-step pf-step-collapsed" data-step={step.name}>
        <legend id={id()} tabIndex={-1}>
          <span class="pf-step-number">{index + 1}</span> {title}
        </legend>
        <p class="pf-step-line">{stepLine(step, task)}</p>
        {actions}
      </fieldset>
    );
  }

  return (
    <fieldset class="pf-step" data-step={step.name}>
      <legend id={id()} tabIndex={-1}>
        <span class="pf-step-number">{index + 1}</span> {title}
      </legend>
      <FieldErrors id={`${id()}-errors`} messages={errors()} />
      <div class="pf-row">
        <Field label="Name" id={id('name')} errors={errors('name')}>
          {(aria) => (
            <input
              {...aria}
              value={step.name}
              spellcheck={false}
              autoComplete="off"
              onInput={(event) => props.onRename((event.target as HTMLInputElement).value)}
            />
          )}
        </Field>
        <Field label="Task" id={id('task')} errors={errors('task')} hint={task?.description}>
          {(aria) => (
            <select {...aria} value={step.task} onChange={(event) => props.onTask((event.target as HTMLSelectElement).value)}>
              {!task && <option value={step.task}>{step.task || '(choose a task)'} — unknown</option>}
              {props.tasks.map((each) => (
                <option key={each.name} value={each.name}>
                  {each.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field
          label="Queue"
          id={id('queue')}
          errors={errors('queue')}
          hint={`Empty: the task's own (${task?.defaultQueue ?? 'normal'}), or priority when the service has priority.`}
        >
          {(aria) => (
            <input
              {...aria}
              list="pf-queues"
              value={step.queue}
              placeholder={task?.defaultQueue ?? 'normal'}
              spellcheck={false}
              onInput={(event) => props.onChange({ queue: (event.target as HTMLInputElement).value })}
            />
          )}
        </Field>
        {trigger === 'periodic' && (task?.withoutInput || step.input !== undefined) ? (
          <Field
            label="Runs"
            id={id('input')}
            errors={errors('input')}
            hint={step.input === 'none' ? task?.withoutInput : 'On every file of the service, at each tick.'}
          >
            {(aria) => (
              <select
                {...aria}
                value={step.input === 'none' ? 'none' : (step.input ?? 'file')}
                onChange={(event) => {
                  const value = (event.target as HTMLSelectElement).value;
                  props.onChange({ input: value === 'file' ? undefined : value });
                }}
              >
                <option value="file">once per file</option>
                <option value="none">once per tick, with no input file</option>
                {step.input !== undefined && step.input !== 'none' && step.input !== 'file' ? <option value={step.input}>{step.input}</option> : null}
              </select>
            )}
          </Field>
        ) : null}
      </div>

      {(task && Object.keys(task.options).length > 0) || unknownOptions.length > 0 ? (
        <div class="pf-group" id={id('options')} tabIndex={-1}>
          <h4>Options</h4>
          <FieldErrors id={`${id('options')}-errors`} messages={errors('options')} />
          <div class="pf-row">
            {task &&
              Object.entries(task.options).map(([name, spec]) => (
                <Field key={name} label={name} id={id(`options.${name}`)} errors={errors(`options.${name}`)} hint={optionHint(spec)}>
                  {(aria) =>
                    spec.type === 'string' ? (
                      <select {...aria} value={step.options[name] ?? ''} onChange={(event) => setOption(name, (event.target as HTMLSelectElement).value)}>
                        <option value="">default ({spec.default})</option>
                        {spec.enum.map((value) => (
                          <option key={value} value={value}>
                            {value}
                          </option>
                        ))}
                      </select>
                    ) : name === 'webhookId' && props.webhooks.length > 0 ? (
                      <select {...aria} value={step.options[name] ?? ''} onChange={(event) => setOption(name, (event.target as HTMLSelectElement).value)}>
                        <option value="">(choose a webhook)</option>
                        {step.options[name] && !props.webhooks.some((hook) => hook.id === step.options[name]) && (
                          <option value={step.options[name]}>{step.options[name]} (not a webhook of this service)</option>
                        )}
                        {props.webhooks.map((hook) => (
                          <option key={hook.id} value={hook.id}>
                            {hook.url}
                          </option>
                        ))}
                      </select>
                    ) : spec.type === 'text' ? (
                      <input
                        {...aria}
                        value={step.options[name] ?? ''}
                        spellcheck={false}
                        maxLength={spec.maxLength}
                        placeholder={spec.default ?? ''}
                        onInput={(event) => setOption(name, (event.target as HTMLInputElement).value)}
                      />
                    ) : (
                      <input
                        {...aria}
                        type="text"
                        inputMode={spec.type === 'integer' ? 'numeric' : 'decimal'}
                        value={step.options[name] ?? ''}
                        placeholder={String(spec.default)}
                        onInput={(event) => setOption(name, (event.target as HTMLInputElement).value)}
                      />
                    )
                  }
                </Field>
              ))}
            {unknownOptions.map((name) => (
              <Field key={name} label={`${name} (not an option of ${step.task || 'this task'})`} id={id(`options.${name}`)} errors={errors(`options.${name}`)}>
                {(aria) => (
                  <span class="pf-inline">
                    <input {...aria} value={step.options[name]} onInput={(event) => setOption(name, (event.target as HTMLInputElement).value)} />
                    {!props.readOnly && (
                      <button
                        type="button"
                        class="secondary"
                        onClick={() => props.onChange({ options: Object.fromEntries(Object.entries(step.options).filter(([other]) => other !== name)) })}
                      >
                        Remove
                      </button>
                    )}
                  </span>
                )}
              </Field>
            ))}
          </div>
        </div>
      ) : null}

      <div class="pf-group" id={id('when')} tabIndex={-1}>
        <h4>Runs only for</h4>
        <FieldErrors id={`${id('when')}-errors`} messages={errors('when')} />
        <div class="pf-row">
          <Field label="Mimetypes" id={id('when.mimetypes')} errors={errors('when.mimetypes')} hint="Types or globs, comma-separated; empty for any.">
            {(aria) => (
              <input
                {...aria}
                value={step.mimetypes}
                placeholder="image/*, video/mp4"
                spellcheck={false}
                onInput={(event) => props.onChange({ mimetypes: (event.target as HTMLInputElement).value })}
              />
            )}
          </Field>
          <Field
            label="Smallest size"
            id={id('when.minSize')}
            errors={errors('when.minSize')}
            hint={sizeHint(step.minSize) ?? 'Bytes, or with a unit: 10 MiB.'}
          >
            {(aria) => (
              <input
                {...aria}
                value={step.minSize}
                placeholder="no minimum"
                onInput={(event) => props.onChange({ minSize: (event.target as HTMLInputElement).value })}
              />
            )}
          </Field>
          <Field label="Largest size" id={id('when.maxSize')} errors={errors('when.maxSize')} hint={sizeHint(step.maxSize) ?? 'Bytes, or with a unit: 2 GB.'}>
            {(aria) => (
              <input
                {...aria}
                value={step.maxSize}
                placeholder="no maximum"
                onInput={(event) => props.onChange({ maxSize: (event.target as HTMLInputElement).value })}
              />
            )}
          </Field>
        </div>
      </div>

      <fieldset class="pf-group pf-after" id={id('after')} tabIndex={-1} aria-describedby={errors('after')?.length ? `${id('after')}-errors` : undefined}>
        <legend>Comes after</legend>
        {others.length === 0 && dangling.length === 0 && <p class="muted">No other steps: it starts at once.</p>}
        <div class="pf-checks">
          {others.map((name) => (
            <label class="check" key={name}>
              <input
                type="checkbox"
                checked={step.after.includes(name)}
                onChange={(event) =>
                  props.onChange({ after: (event.target as HTMLInputElement).checked ? [...step.after, name] : step.after.filter((each) => each !== name) })
                }
              />
              {name}
            </label>
          ))}
          {dangling.map((name) => (
            <label class="check pf-missing" key={`missing-${name}`}>
              <input type="checkbox" checked aria-invalid="true" onChange={() => props.onChange({ after: step.after.filter((each) => each !== name) })} />
              {name} <small>(no such step)</small>
            </label>
          ))}
        </div>
        <FieldErrors id={`${id('after')}-errors`} messages={errors('after')} />
      </fieldset>

      {actions}
    </fieldset>
  );
}
