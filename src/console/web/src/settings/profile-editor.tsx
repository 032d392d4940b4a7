import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { formatDate } from '../format';
import { ErrorNotice, Spinner } from '../components/ui';
import { ConfirmDialog } from '../components/confirm-dialog';
import {
  addStep,
  changeTask,
  checkDraft,
  definitionFromDraft,
  describeField,
  draftFromDefinition,
  fieldDomId,
  mapProfileErrors,
  moveStep,
  nextRuns,
  notRemadeOnUpdate,
  PipelineDraft,
  ProfileCheck,
  ProfileDraft,
  removeStep,
  renameStep,
  stepProblemCount,
  TaskInfo,
  Trigger,
  TRIGGER_INFO,
  TRIGGERS,
  updateStep,
} from './profile-draft';
import { FieldErrors, StepEditor, WebhookChoice } from './step-editor';

/** GET/PUT/DELETE /services/:id/profile (src/pipelines/pipelines.service.ts `EffectiveProfile`). */
export interface EffectiveProfile {
  definition: unknown;
  isDefault: boolean;
  updatedAt: string | null;
  source: 'default' | 'service' | 'container';
  name: string | null;
}

const SOURCE_TEXT: Record<EffectiveProfile['source'], string> = {
  default: 'MServe’s default profile (not saved for this service yet)',
  service: 'this service’s own profile',
  container: 'a profile of the container, chosen by the provider',
};

/** The trigger a field key belongs to ('periodic.steps[0].name' → 'periodic'). */
const triggerOf = (key: string) => key.split(/[.[]/)[0] as Trigger;

function merge(...checks: Array<ProfileCheck | null>): ProfileCheck {
  const merged: ProfileCheck = { fields: {}, general: [], all: [] };
  for (const check of checks) {
    if (!check) continue;
    for (const [key, messages] of Object.entries(check.fields)) merged.fields[key] = [...new Set([...(merged.fields[key] ?? []), ...messages])];
    merged.general.push(...check.general.filter((message) => !merged.general.includes(message)));
    merged.all.push(...check.all.filter((item) => !merged.all.some((other) => other.message === item.message)));
  }
  return merged;
}

/**
 * The service's processing profile: for each trigger, a pipeline of steps. Edited as a form or as JSON; checked as
 * you type with the server's own rules, and what the server refuses on save is shown at the same fields.
 */
export function ProfileEditor(props: { serviceId: string; canEdit: boolean; webhooks: WebhookChoice[] }) {
  const [profile, setProfile] = useState<EffectiveProfile | null>(null);
  const [tasks, setTasks] = useState<TaskInfo[]>([]);
  const [draft, setDraft] = useState<ProfileDraft | null>(null);
  const [ignored, setIgnored] = useState<string[]>([]);
  const [trigger, setTrigger] = useState<Trigger>('ingest');
  const [serverCheck, setServerCheck] = useState<ProfileCheck | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const [showSummary, setShowSummary] = useState(false);
  const [confirmReset, setConfirmReset] = useState(false);
  const [json, setJson] = useState<string | null>(null);
  const [jsonError, setJsonError] = useState<string | null>(null);
  const [newTask, setNewTask] = useState('');
  const [focusKey, setFocusKey] = useState<string | null>(null);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const summaryRef = useRef<HTMLDivElement>(null);

  const load = (next: EffectiveProfile) => {
    setProfile(next);
    const converted = draftFromDefinition(next.definition);
    setDraft(converted.draft);
    setIgnored(converted.ignored);
    setServerCheck(null);
  };

  useEffect(() => {
    let live = true;
    Promise.all([api<EffectiveProfile>(`/services/${props.serviceId}/profile`), api<{ items: TaskInfo[] }>('/tasks', { keyId: null })])
      .then(([loaded, registry]) => {
        if (!live) return;
        setTasks(registry.items);
        setNewTask(registry.items[0]?.name ?? '');
        load(loaded);
      })
      .catch((caught) => live && setError(caught));
    return () => {
      live = false;
    };
  }, [props.serviceId]);

  // after a summary link switched trigger, focus the field once it is on screen
  useEffect(() => {
    if (!focusKey) return;
    const element = document.getElementById(fieldDomId(focusKey));
    element?.focus();
    element?.scrollIntoView({ block: 'center' });
    setFocusKey(null);
  }, [focusKey, trigger]);

  const clientCheck = useMemo(() => (draft && tasks.length ? checkDraft(draft, tasks) : null), [draft, tasks]);
  const check = merge(clientCheck, serverCheck);

  // a step with a problem opens, and stays open once fixed (it does not fold away under the cursor)
  useEffect(() => {
    if (!draft) return;
    const troubled = TRIGGERS.flatMap((each) => draft[each].steps.filter((_, index) => stepProblemCount(check, each, index) > 0).map((step) => step.uid));
    if (troubled.some((uid) => !open.has(uid))) setOpen(new Set([...open, ...troubled]));
  }, [clientCheck, serverCheck]);
  const saved = useMemo(
    () => (profile && tasks.length ? JSON.stringify(definitionFromDraft(draftFromDefinition(profile.definition).draft, tasks)) : ''),
    [profile, tasks],
  );
  const body = draft && tasks.length ? definitionFromDraft(draft, tasks) : null;
  const dirty = body !== null && JSON.stringify(body) !== saved;
  const readOnly = !props.canEdit || profile?.source === 'container';

  if (error && !profile) return <ErrorNotice error={error} />;
  if (!profile || !draft) return <Spinner label="Loading the profile…" />;

  const edit = (change: (pipeline: PipelineDraft) => PipelineDraft, on: Trigger = trigger) => {
    setDraft({ ...draft, [on]: change(draft[on]) });
    // the server's answer was about the draft as it was: from now on the live check speaks
    setServerCheck(null);
    setStatus('');
  };

  const save = async () => {
    setShowSummary(true);
    setError(null);
    if (clientCheck && clientCheck.all.length) {
      setStatus('');
      summaryRef.current?.focus();
      return;
    }
    setBusy(true);
    try {
      const stored = await api<EffectiveProfile>(`/services/${props.serviceId}/profile`, { method: 'PUT', body });
      load(stored);
      setShowSummary(false);
      setStatus(`Saved ${formatDate(stored.updatedAt ?? new Date())}. New work uses it at once.`);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 400 && Array.isArray(caught.problem.errors)) {
        setServerCheck(mapProfileErrors(caught.problem.errors as string[], draft));
        setTimeout(() => summaryRef.current?.focus(), 0);
      } else setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const reset = async () => {
    setBusy(true);
    try {
      load(await api<EffectiveProfile>(`/services/${props.serviceId}/profile`, { method: 'DELETE' }));
      setStatus('Back on MServe’s default profile.');
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
      setConfirmReset(false);
    }
  };

  const applyJson = () => {
    if (json === null) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (caught) {
      setJsonError(`Not JSON: ${(caught as Error).message}`);
      return;
    }
    const converted = draftFromDefinition(parsed);
    setDraft(converted.draft);
    setIgnored(converted.ignored);
    setServerCheck(null);
    setJson(null);
    setJsonError(null);
    setStatus('JSON applied to the form; save to keep it.');
  };

  const goTo = (key: string | null) => {
    if (!key) return;
    const index = /\.steps\[(\d+)\]/.exec(key)?.[1];
    const uid = index === undefined ? undefined : draft[triggerOf(key)].steps[Number(index)]?.uid;
    if (uid) setOpen(new Set([...open, uid]));
    setTrigger(triggerOf(key));
    setFocusKey(key);
  };
  const toggle = (uid: string) => {
    const next = new Set(open);
    if (next.has(uid)) next.delete(uid);
    else next.add(uid);
    setOpen(next);
  };

  const pipeline = draft[trigger];
  const updateGap = notRemadeOnUpdate(draft);
  const runs = trigger === 'periodic' && pipeline.enabled ? nextRuns(pipeline.schedule, 3) : null;
  const problemsIn = (each: Trigger) =>
    Object.entries(check.fields)
      .filter(([key]) => triggerOf(key) === each)
      .reduce((sum, [, list]) => sum + list.length, 0);
  const scheduleKey = 'periodic.schedule';

  return (
    <div class="profile-editor">
      <p class="muted">
        This service runs {SOURCE_TEXT[profile.source]}
        {profile.name ? ` “${profile.name}”` : ''}
        {profile.updatedAt ? `, saved ${formatDate(profile.updatedAt)}` : ''}.
      </p>
      {profile.source === 'container' && (
        <p class="notice">
          The provider chose the container profile “{profile.name}” for this service, so its own profile cannot be edited. Clear the selection under Properties
          (needs service:manage) to edit it.
        </p>
      )}
      {!props.canEdit && profile.source !== 'container' && <p class="notice">This key can read the profile but not change it (that needs service:update).</p>}
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      {ignored.length > 0 && <p class="notice">Not kept by the editor: {ignored.join(', ')}.</p>}

      {(showSummary || serverCheck) && check.all.length > 0 && (
        <div class="notice error pf-summary" role="alert" tabIndex={-1} ref={summaryRef}>
          <div>
            <strong>
              {serverCheck ? 'The server refused the profile' : 'The profile cannot be saved yet'}: {check.all.length} problem{check.all.length > 1 ? 's' : ''}
            </strong>
            <ul>
              {check.all.map((item) => (
                <li key={item.message}>
                  {item.key ? (
                    <a
                      href={`#${fieldDomId(item.key)}`}
                      onClick={(event) => {
                        event.preventDefault();
                        goTo(item.key);
                      }}
                    >
                      {describeField(item.key, draft)}: {item.text}
                    </a>
                  ) : (
                    item.text
                  )}
                </li>
              ))}
            </ul>
          </div>
        </div>
      )}

      {json !== null ? (
        <div class="pf-json">
          <label for="pf-json">Profile as JSON (the body of PUT /api/v1/services/:id/profile)</label>
          <textarea
            id="pf-json"
            rows={22}
            spellcheck={false}
            value={json}
            readOnly={readOnly}
            aria-invalid={Boolean(jsonError)}
            aria-describedby={jsonError ? 'pf-json-error' : undefined}
            onInput={(event) => setJson((event.target as HTMLTextAreaElement).value)}
          />
          {jsonError && (
            <p class="field-error" id="pf-json-error">
              {jsonError}
            </p>
          )}
          <div class="actions">
            {!readOnly && (
              <button type="button" onClick={applyJson}>
                Apply to the form
              </button>
            )}
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setJson(null);
                setJsonError(null);
              }}
            >
              Back to the form
            </button>
          </div>
        </div>
      ) : (
        <>
          <div class="pf-triggers" role="group" aria-label="Trigger">
            {TRIGGERS.map((each) => {
              const problems = problemsIn(each);
              return (
                <button
                  key={each}
                  type="button"
                  class={each === trigger ? undefined : 'secondary'}
                  aria-pressed={each === trigger}
                  onClick={() => setTrigger(each)}
                >
                  {TRIGGER_INFO[each].label}
                  <small> {draft[each].enabled ? `${draft[each].steps.length} step${draft[each].steps.length === 1 ? '' : 's'}` : 'off'}</small>
                  {problems > 0 && (
                    <span class="key-badge key-badge-error" aria-label={`${problems} problems`}>
                      {problems}
                    </span>
                  )}
                </button>
              );
            })}
          </div>

          <fieldset class="pf-pipeline" disabled={readOnly}>
            <legend id={fieldDomId(trigger)} tabIndex={-1}>
              {TRIGGER_INFO[trigger].label} pipeline
            </legend>
            <p class="muted">{TRIGGER_INFO[trigger].description}</p>
            <label class="check">
              <input
                type="checkbox"
                checked={pipeline.enabled}
                onChange={(event) => edit((current) => ({ ...current, enabled: (event.target as HTMLInputElement).checked }))}
              />
              Run a pipeline on {trigger}
            </label>
            <FieldErrors id={`${fieldDomId(trigger)}-errors`} messages={check.fields[trigger]} />
            {trigger === 'update' && updateGap.length > 0 && (
              <p class="notice pf-update-gap" data-missing={updateGap.join(' ')}>
                A replace drops what described the old bytes. Ingest runs {updateGap.join(', ')}; this pipeline does not, so replaced files go without
                {updateGap.length === 1 ? ' it' : ' them'} until a manual job makes {updateGap.length === 1 ? 'it' : 'them'}.
              </p>
            )}
            {pipeline.enabled && (
              <>
                {trigger === 'periodic' && (
                  <div class="pf-field pf-schedule">
                    <label for={fieldDomId(scheduleKey)}>Schedule (cron, UTC)</label>
                    <input
                      id={fieldDomId(scheduleKey)}
                      value={pipeline.schedule}
                      placeholder="0 3 * * *"
                      spellcheck={false}
                      aria-invalid={Boolean(check.fields[scheduleKey]?.length)}
                      aria-describedby={`${fieldDomId(scheduleKey)}-hint${check.fields[scheduleKey]?.length ? ` ${fieldDomId(scheduleKey)}-errors` : ''}`}
                      onInput={(event) => edit((current) => ({ ...current, schedule: (event.target as HTMLInputElement).value }))}
                    />
                    <small id={`${fieldDomId(scheduleKey)}-hint`}>
                      minute hour day-of-month month day-of-week (a 6th field in front for seconds).
                      {runs && ` Next: ${runs.map((run) => formatDate(run)).join(', ')}.`}
                    </small>
                    <FieldErrors id={`${fieldDomId(scheduleKey)}-errors`} messages={check.fields[scheduleKey]} />
                  </div>
                )}
                <div class="pf-steps-head">
                  <h3 id={fieldDomId(`${trigger}.steps`)} tabIndex={-1}>
                    Steps
                  </h3>
                  {!readOnly && pipeline.steps.length > 0 && (
                    <div class="actions">
                      <button type="button" class="link" onClick={() => setOpen(new Set([...open, ...pipeline.steps.map((each) => each.uid)]))}>
                        Edit all
                      </button>
                      <button
                        type="button"
                        class="link"
                        onClick={() =>
                          setOpen(
                            new Set(
                              [...open].filter(
                                (uid) =>
                                  !pipeline.steps.some((each) => each.uid === uid && stepProblemCount(check, trigger, pipeline.steps.indexOf(each)) === 0),
                              ),
                            ),
                          )
                        }
                      >
                        Collapse all
                      </button>
                    </div>
                  )}
                </div>
                <FieldErrors id={`${fieldDomId(`${trigger}.steps`)}-errors`} messages={check.fields[`${trigger}.steps`]} />
                {pipeline.steps.length === 0 && <p class="muted">No steps yet.</p>}
                {pipeline.steps.map((step, index) => (
                  <StepEditor
                    key={step.uid}
                    trigger={trigger}
                    index={index}
                    pipeline={pipeline}
                    tasks={tasks}
                    webhooks={props.webhooks}
                    errors={check.fields}
                    readOnly={readOnly}
                    expanded={open.has(step.uid)}
                    onToggle={() => toggle(step.uid)}
                    onRename={(name) => edit((current) => renameStep(current, index, name))}
                    onTask={(task) => edit((current) => changeTask(current, index, task))}
                    onChange={(change) => edit((current) => updateStep(current, index, change))}
                    onMove={(delta) => edit((current) => moveStep(current, index, delta))}
                    onRemove={() => edit((current) => removeStep(current, index))}
                  />
                ))}
                {!readOnly && (
                  <div class="inline pf-add">
                    <label>
                      Task for a new step
                      <select value={newTask} onChange={(event) => setNewTask((event.target as HTMLSelectElement).value)}>
                        {tasks.map((task) => (
                          <option key={task.name} value={task.name}>
                            {task.name}
                          </option>
                        ))}
                      </select>
                    </label>
                    <button
                      type="button"
                      class="secondary"
                      disabled={!newTask}
                      onClick={() => {
                        const added = addStep(pipeline, newTask);
                        const uid = added.steps[added.steps.length - 1].uid;
                        edit(() => added);
                        setOpen(new Set([...open, uid]));
                        setFocusKey(`${trigger}.steps[${added.steps.length - 1}].name`);
                      }}
                    >
                      Add step
                    </button>
                  </div>
                )}
                <p class="muted pf-summary-line">{stepSummary(pipeline, check, trigger)}</p>
              </>
            )}
          </fieldset>
        </>
      )}
      <datalist id="pf-queues">
        <option value="normal" />
        <option value="priority" />
        <option value="hardware.gpu" />
      </datalist>

      <div class="actions pf-save">
        {!readOnly && (
          <>
            <button type="button" disabled={busy} onClick={save}>
              {busy ? 'Saving…' : 'Save profile'}
            </button>
            <button type="button" class="secondary" disabled={!dirty || busy} onClick={() => load(profile)}>
              Discard changes
            </button>
          </>
        )}
        {json === null ? (
          <button type="button" class="secondary" onClick={() => setJson(JSON.stringify(body, null, 2))}>
            {readOnly ? 'View as JSON' : 'Edit as JSON'}
          </button>
        ) : null}
        {!readOnly && profile.source === 'service' && (
          <button type="button" class="secondary" disabled={busy} onClick={() => setConfirmReset(true)}>
            Reset to the default
          </button>
        )}
        <span class="muted" role="status" aria-live="polite">
          {dirty ? 'Unsaved changes. ' : ''}
          {status}
        </span>
      </div>

      <ConfirmDialog
        open={confirmReset}
        title="Go back to the default profile?"
        confirmLabel="Reset"
        busyLabel="Resetting…"
        onConfirm={reset}
        onClose={() => setConfirmReset(false)}
      >
        <p>
          The service’s own profile is deleted and MServe’s default ingest pipeline (mime, checksums, thumbnails, posters, video proxies, backup) runs again. A
          periodic schedule stops.
        </p>
      </ConfirmDialog>
    </div>
  );
}

function stepSummary(pipeline: PipelineDraft, check: ProfileCheck, trigger: Trigger): string {
  const problems = pipeline.steps.reduce((sum, _, index) => sum + (stepProblemCount(check, trigger, index) ? 1 : 0), 0);
  const roots = pipeline.steps.filter((step) => step.after.length === 0).map((step) => step.name);
  return `${pipeline.steps.length} step${pipeline.steps.length === 1 ? '' : 's'}${roots.length ? `; ${roots.join(', ')} start${roots.length === 1 ? 's' : ''} at once, the others after the steps they name` : ''}${problems ? `; ${problems} with problems` : ''}.`;
}
