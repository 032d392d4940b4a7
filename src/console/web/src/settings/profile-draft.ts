/**
 * The profile editor's model and rules, free of the DOM so they can be unit-tested. The form edits a draft (text as
 * typed, so a half-written number can be shown and flagged); the draft becomes the JSON body of
 * `PUT /api/v1/services/:id/profile`, and that body is checked by the server's own `validateProfile`
 * (src/pipelines/profile.ts, bundled into the console): one rule set, whose messages are then placed next to the
 * field they concern. The server's 400 problem carries the same messages (`errors`) and is placed the same way.
 */
import { CronExpressionParser } from 'cron-parser';
import { ProfileErrors, TRIGGERS, validateProfile, type Trigger } from '../../../../pipelines/profile';
import type { OptionSpec, TaskDefinition as TaskInfo } from '../mfile/types';

export { TRIGGERS, type Trigger };

/** A task option and a task as GET /api/v1/tasks describes them (src/tasks/task-catalogue.ts). */
export type { OptionSpec, TaskInfo };

export interface StepDraft {
  /** Stable identity for the list while names are being typed. */
  uid: string;
  name: string;
  task: string;
  /** Option values as typed; '' means "the task's default". */
  options: Record<string, string>;
  /** Mimetypes or globs, separated by commas or spaces. */
  mimetypes: string;
  minSize: string;
  maxSize: string;
  /** '' for the task's default queue. */
  queue: string;
  after: string[];
  /** `"none"`: a periodic step without input (once per tick); kept as given so the validator names a bad value. */
  input?: string;
}

export interface PipelineDraft {
  enabled: boolean;
  schedule: string;
  steps: StepDraft[];
}

export type ProfileDraft = Record<Trigger, PipelineDraft>;

/** Problems found, keyed by field (see `fieldKey`), plus those no field owns. */
export interface ProfileCheck {
  fields: Record<string, string[]>;
  general: string[];
  /** Every message, as the validator wrote it, with the field it was placed on (for the summary). */
  all: Array<{ message: string; key: string | null; text: string }>;
}

export const TRIGGER_INFO: Record<Trigger, { label: string; description: string }> = {
  ingest: { label: 'Ingest', description: 'Runs on every new file (upload, WebDAV, tus).' },
  update: { label: 'Update', description: 'Runs when a file’s content is replaced.' },
  access: { label: 'Access', description: 'Runs when a file’s content is downloaded.' },
  periodic: {
    label: 'Periodic',
    description:
      'Runs over every file of the service on a schedule (cron, UTC); a step with input "none" (such as fetch-url into a folder) runs once per tick instead.',
  },
  manual: { label: 'Manual', description: 'Runs when someone starts the manual pipeline on files.' },
};

export const STEP_FIELDS = ['name', 'task', 'options', 'when', 'queue', 'after', 'input'] as const;

let uids = 0;
export function newUid(): string {
  uids += 1;
  return `step-${uids}`;
}

export function emptyProfileDraft(): ProfileDraft {
  return Object.fromEntries(TRIGGERS.map((trigger) => [trigger, { enabled: false, schedule: '', steps: [] }])) as unknown as ProfileDraft;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string => (value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value));

/**
 * A stored or pasted profile → the editor's draft. Whatever the form cannot show (an unknown trigger or property)
 * is listed in `ignored` so the person knows it will not be kept.
 */
export function draftFromDefinition(definition: unknown): { draft: ProfileDraft; ignored: string[] } {
  const draft = emptyProfileDraft();
  const ignored: string[] = [];
  if (!isObject(definition)) return { draft, ignored: ['the profile is not an object'] };
  for (const [trigger, value] of Object.entries(definition)) {
    if (!(TRIGGERS as readonly string[]).includes(trigger)) {
      ignored.push(`${trigger} (not a trigger)`);
      continue;
    }
    const pipeline = draft[trigger as Trigger];
    pipeline.enabled = true;
    if (!isObject(value)) continue;
    for (const key of Object.keys(value)) if (key !== 'steps' && key !== 'schedule') ignored.push(`${trigger}.${key}`);
    pipeline.schedule = text(value.schedule);
    const steps = Array.isArray(value.steps) ? value.steps : [];
    steps.forEach((raw: unknown, index: number) => {
      if (!isObject(raw)) {
        ignored.push(`${trigger}.steps[${index}] (not an object)`);
        return;
      }
      for (const key of Object.keys(raw)) if (!(STEP_FIELDS as readonly string[]).includes(key)) ignored.push(`${trigger}.steps[${index}].${key}`);
      const when = isObject(raw.when) ? raw.when : {};
      const task = text(raw.task);
      pipeline.steps.push({
        uid: newUid(),
        name: raw.name === undefined ? task : text(raw.name),
        task,
        options: isObject(raw.options) ? Object.fromEntries(Object.entries(raw.options).map(([name, option]) => [name, text(option)])) : {},
        mimetypes: Array.isArray(when.mimetypes) ? when.mimetypes.map(text).join(', ') : text(when.mimetypes),
        minSize: text(when.minSize),
        maxSize: text(when.maxSize),
        queue: text(raw.queue),
        after: Array.isArray(raw.after) ? raw.after.map(text) : [],
        ...(raw.input !== undefined && raw.input !== 'file' ? { input: text(raw.input) } : {}),
      });
    });
  }
  return { draft, ignored };
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** An option as typed → the JSON value to send; what does not parse is sent as typed, for the validator to name. */
export function parseOptionValue(spec: OptionSpec | undefined, raw: string): unknown {
  const value = raw.trim();
  if (value === '') return undefined;
  if (spec && (spec.type === 'integer' || spec.type === 'number')) return NUMBER.test(value) ? Number(value) : raw;
  if (!spec) {
    // an option the task does not have (from a pasted profile): keep its JSON value if it is one
    try {
      return JSON.parse(value);
    } catch {
      return raw;
    }
  }
  return raw;
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** "1048576", "5 MiB", "2.5 GB" → bytes; what does not parse is sent as typed, for the validator to name. */
export function parseByteSize(raw: string): unknown {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(raw);
  if (!raw.trim()) return undefined;
  if (!match) return raw;
  return Math.round(Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()] * 1000) / 1000;
}

export function splitMimetypes(raw: string): string[] {
  return raw.split(/[\s,]+/).filter(Boolean);
}

/** The draft → the JSON body of PUT /services/:id/profile (disabled triggers left out, defaults not repeated). */
export function definitionFromDraft(draft: ProfileDraft, tasks: readonly TaskInfo[]): Record<string, unknown> {
  const byName = new Map(tasks.map((task) => [task.name, task]));
  const definition: Record<string, unknown> = {};
  for (const trigger of TRIGGERS) {
    const pipeline = draft[trigger];
    if (!pipeline.enabled) continue;
    const steps = pipeline.steps.map((step) => {
      const spec = byName.get(step.task)?.options ?? {};
      const options: Record<string, unknown> = {};
      for (const [name, raw] of Object.entries(step.options)) {
        const value = parseOptionValue(spec[name], raw);
        if (value !== undefined) options[name] = value;
      }
      const body: Record<string, unknown> = { name: step.name.trim(), task: step.task };
      if (Object.keys(options).length) body.options = options;
      const when: Record<string, unknown> = {};
      const mimetypes = splitMimetypes(step.mimetypes);
      if (mimetypes.length) when.mimetypes = mimetypes;
      const minSize = parseByteSize(step.minSize);
      const maxSize = parseByteSize(step.maxSize);
      if (minSize !== undefined) when.minSize = minSize;
      if (maxSize !== undefined) when.maxSize = maxSize;
      if (Object.keys(when).length) body.when = when;
      if (step.queue.trim()) body.queue = step.queue.trim();
      if (step.after.length) body.after = [...step.after];
      if (step.input !== undefined) body.input = step.input;
      return body;
    });
    // a blank schedule is left out, so the validator says it is required rather than that '' is no cron expression
    definition[trigger] = trigger === 'periodic' && pipeline.schedule.trim() ? { schedule: pipeline.schedule.trim(), steps } : { steps };
  }
  return definition;
}

export function fieldKey(trigger: Trigger, index?: number, field?: string): string {
  return index === undefined ? (field ? `${trigger}.${field}` : trigger) : `${trigger}.steps[${index}]${field ? `.${field}` : ''}`;
}

/** A DOM id for a field key, for labels, aria-describedby and the summary's links. */
export function fieldDomId(key: string): string {
  return `pf-${key.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '')}`;
}

const TRIGGER_ALT = TRIGGERS.join('|');
const STEP_PATH = new RegExp(`^(${TRIGGER_ALT})\\.steps\\[(\\d+)\\](?:\\.(name|task|options|when|queue|after|input)(?:\\.([A-Za-z0-9_-]+))?)?`);
const PIPELINE_PATH = new RegExp(`^(${TRIGGER_ALT})(?:\\.(schedule|steps)\\b|(?= must be an object)|\\.[A-Za-z0-9_-]+ is not a pipeline property)`);
const NAMED_STEP = new RegExp(`^(${TRIGGER_ALT}): step "(.+?)" (cannot come after itself|comes after "(.+?)", which is not a step of \\w+)$`);
const CYCLE = new RegExp(`^(${TRIGGER_ALT}): the steps form a cycle: (.+)$`);

/** Plainer words for the validator's phrasings once the path is gone ("must be …" → "Width must be …"). */
function humane(field: string | undefined, option: string | undefined, rest: string): string {
  if (field === 'name' && rest.startsWith('must match')) return 'Use 1-100 lowercase letters, digits, - or _, starting with a letter or digit.';
  if (field === 'schedule' && rest.startsWith('is required')) return `Required${rest.slice('is required'.length)}`;
  if (option && /^(is|must)\b/.test(rest)) return `${option} ${rest}`;
  return rest.charAt(0).toUpperCase() + rest.slice(1);
}

/**
 * Places each message of the validator (client-side, or the server's 400 `errors`) on the field it names:
 * `ingest.steps[2].options.width`, `periodic.schedule`, … Messages that name a step by name ("comes after",
 * cycles) go on that step's `after` field of the draft they were made from.
 */
export function mapProfileErrors(messages: readonly string[], draft: ProfileDraft): ProfileCheck {
  const check: ProfileCheck = { fields: {}, general: [], all: [] };
  const put = (key: string, message: string, original: string) => {
    const list = (check.fields[key] ??= []);
    if (!list.includes(message)) list.push(message);
    check.all.push({ message: original, key, text: message });
  };
  const indexOf = (trigger: Trigger, name: string) => draft[trigger]?.steps.findIndex((step) => step.name.trim() === name) ?? -1;
  for (const message of messages) {
    const step = STEP_PATH.exec(message);
    if (step) {
      const [matched, trigger, index, field, option] = step;
      const rest = message.slice(matched.length).replace(/^[\s:]+/, '');
      put(
        fieldKey(trigger as Trigger, Number(index), field ? (option && (field === 'options' || field === 'when') ? `${field}.${option}` : field) : undefined),
        humane(field, option, rest),
        message,
      );
      continue;
    }
    const named = NAMED_STEP.exec(message);
    if (named) {
      const [, trigger, name, what, missing] = named;
      const index = indexOf(trigger as Trigger, name);
      const text = missing ? `“${missing}” is not a step of this pipeline.` : 'A step cannot come after itself.';
      if (index >= 0) put(fieldKey(trigger as Trigger, index, 'after'), text, message);
      else put(fieldKey(trigger as Trigger), `Step “${name}” ${what}.`, message);
      continue;
    }
    const cycle = CYCLE.exec(message);
    if (cycle) {
      const [, trigger, loop] = cycle;
      const names = [...new Set(loop.split(' → '))];
      // a step after itself is a cycle of one, already reported as such
      if (names.length === 1 && indexOf(trigger as Trigger, names[0]) >= 0) continue;
      const placed = names.map((name) => indexOf(trigger as Trigger, name)).filter((index) => index >= 0);
      for (const index of placed) put(fieldKey(trigger as Trigger, index, 'after'), `Part of a cycle: ${loop}.`, message);
      if (!placed.length) put(fieldKey(trigger as Trigger), `The steps form a cycle: ${loop}.`, message);
      continue;
    }
    const pipeline = PIPELINE_PATH.exec(message);
    if (pipeline) {
      const [matched, trigger, field] = pipeline;
      put(
        fieldKey(trigger as Trigger, undefined, field),
        field ? humane(field, undefined, message.slice(matched.length).replace(/^[\s:]+/, '')) : message,
        message,
      );
      continue;
    }
    check.general.push(message);
    check.all.push({ message, key: null, text: message });
  }
  return check;
}

/**
 * Checks the draft with the server's rules. The minimum interval between periodic runs is the server's setting
 * (PERIODIC_MIN_INTERVAL_SECONDS), which the console cannot know: that one rule is left to the server's answer.
 */
export function checkDraft(draft: ProfileDraft, tasks: readonly TaskInfo[]): ProfileCheck {
  try {
    validateProfile(definitionFromDraft(draft, tasks), { minIntervalSeconds: 0 });
    return { fields: {}, general: [], all: [] };
  } catch (error) {
    if (error instanceof ProfileErrors) return mapProfileErrors(error.errors, draft);
    return { fields: {}, general: [String(error)], all: [{ message: String(error), key: null, text: String(error) }] };
  }
}

export function countProblems(check: ProfileCheck): number {
  return check.all.length;
}

/** The problems of one step (any field), for a badge on a collapsed step. */
export function stepProblemCount(check: ProfileCheck, trigger: Trigger, index: number): number {
  const prefix = fieldKey(trigger, index);
  return Object.entries(check.fields)
    .filter(([key]) => key === prefix || key.startsWith(`${prefix}.`))
    .reduce((sum, [, messages]) => sum + messages.length, 0);
}

export function uniqueStepName(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const stem =
    base
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 90) || 'step';
  if (!used.has(stem)) return stem;
  for (let n = 2; ; n += 1) if (!used.has(`${stem}-${n}`)) return `${stem}-${n}`;
}

export function addStep(pipeline: PipelineDraft, task: string): PipelineDraft {
  const name = uniqueStepName(
    task,
    pipeline.steps.map((step) => step.name),
  );
  // a new step comes, by default, after the one before it: a chain is what people usually mean
  const previous = pipeline.steps[pipeline.steps.length - 1];
  const step: StepDraft = {
    uid: newUid(),
    name,
    task,
    options: {},
    mimetypes: '',
    minSize: '',
    maxSize: '',
    queue: '',
    after: previous ? [previous.name] : [],
  };
  return { ...pipeline, enabled: true, steps: [...pipeline.steps, step] };
}

/** Removes a step; steps that came after it keep the reference, which the validator then flags at their `after`. */
export function removeStep(pipeline: PipelineDraft, index: number): PipelineDraft {
  return { ...pipeline, steps: pipeline.steps.filter((_, at) => at !== index) };
}

export function moveStep(pipeline: PipelineDraft, index: number, delta: -1 | 1): PipelineDraft {
  const target = index + delta;
  if (target < 0 || target >= pipeline.steps.length) return pipeline;
  const steps = [...pipeline.steps];
  [steps[index], steps[target]] = [steps[target], steps[index]];
  return { ...pipeline, steps };
}

/** Renames a step and every `after` that named it, so the edges follow the step. */
export function renameStep(pipeline: PipelineDraft, index: number, name: string): PipelineDraft {
  const old = pipeline.steps[index].name;
  return {
    ...pipeline,
    steps: pipeline.steps.map((step, at) => {
      if (at === index) return { ...step, name };
      if (!old || !step.after.includes(old)) return step;
      return { ...step, after: step.after.map((entry) => (entry === old ? name : entry)) };
    }),
  };
}

/** Another task for a step: its options start from the new task's defaults; an auto-named step follows the task. */
export function changeTask(pipeline: PipelineDraft, index: number, task: string): PipelineDraft {
  const step = pipeline.steps[index];
  const autoNamed = step.name === step.task || new RegExp(`^${step.task.replace(/[^a-z0-9-]/g, '')}-\\d+$`).test(step.name);
  let next: PipelineDraft = { ...pipeline, steps: pipeline.steps.map((each, at) => (at === index ? { ...each, task, options: {} } : each)) };
  if (autoNamed)
    next = renameStep(
      next,
      index,
      uniqueStepName(
        task,
        pipeline.steps.filter((_, at) => at !== index).map((each) => each.name),
      ),
    );
  return next;
}

export function updateStep(pipeline: PipelineDraft, index: number, change: Partial<Omit<StepDraft, 'uid' | 'name' | 'task'>>): PipelineDraft {
  return { ...pipeline, steps: pipeline.steps.map((step, at) => (at === index ? { ...step, ...change } : step)) };
}

/** The next runs of a cron schedule (UTC, as the scheduler reads it), or null if it does not parse. */
export function nextRuns(schedule: string, count: number, from = new Date()): Date[] | null {
  const fields = schedule.trim().split(/\s+/).length;
  if (!schedule.trim() || fields < 5 || fields > 6) return null;
  try {
    const expression = CronExpressionParser.parse(schedule.trim(), { tz: 'UTC', currentDate: from });
    return Array.from({ length: count }, () => expression.next().toDate());
  } catch {
    return null;
  }
}

/** Steps whose `after` lists a name no step of the pipeline has (to show them in the dependency picker). */
export function danglingAfter(pipeline: PipelineDraft, index: number): string[] {
  const names = new Set(pipeline.steps.map((step) => step.name));
  return pipeline.steps[index].after.filter((name) => !names.has(name));
}

const FIELD_LABELS: Record<string, string> = {
  name: 'name',
  task: 'task',
  queue: 'queue',
  options: 'options',
  when: 'condition',
  'when.mimetypes': 'mimetypes',
  'when.minSize': 'smallest size',
  'when.maxSize': 'largest size',
  after: 'comes after',
  schedule: 'schedule',
  steps: 'steps',
};

/** Where a field is, in words, for the error summary: "Ingest › step 3 “thumbnail” › width". */
export function describeField(key: string, draft: ProfileDraft): string {
  const match = /^(\w+)(?:\.steps\[(\d+)\])?(?:\.(.+))?$/.exec(key);
  if (!match) return key;
  const [, trigger, index, field] = match;
  const parts = [TRIGGER_INFO[trigger as Trigger]?.label ?? trigger];
  if (index !== undefined) {
    const name = draft[trigger as Trigger]?.steps[Number(index)]?.name;
    parts.push(`step ${Number(index) + 1}${name ? ` “${name}”` : ''}`);
  }
  if (field) parts.push(FIELD_LABELS[field] ?? field.replace(/^options\./, ''));
  return parts.join(' › ');
}

/** A step in one line, for a collapsed step: task, options that differ from the defaults, condition, edges, queue. */
export function stepLine(step: StepDraft, task: TaskInfo | undefined): string {
  const parts = [step.task || 'no task'];
  const options = Object.entries(step.options).filter(([name, value]) => value.trim() !== '' && String(task?.options[name]?.default ?? '') !== value.trim());
  if (options.length) parts.push(options.map(([name, value]) => `${name} ${value}`).join(', '));
  const when = [
    splitMimetypes(step.mimetypes).join(' or '),
    step.minSize.trim() && `≥ ${step.minSize.trim()}`,
    step.maxSize.trim() && `≤ ${step.maxSize.trim()}`,
  ].filter(Boolean);
  parts.push(when.length ? `for ${when.join(', ')}` : 'for any file');
  parts.push(step.after.length ? `after ${step.after.join(', ')}` : 'starts at once');
  if (step.queue.trim()) parts.push(`on ${step.queue.trim()}`);
  return parts.join(' · ');
}

/**
 * Tasks whose findings a replace drops (they describe the old bytes: dimensions, renditions, the backup; mirror of
 * CONTENT_DERIVED_METADATA in src/mfiles/mfile.entity.ts) and that the ingest pipeline runs but the update pipeline
 * does not: after a replace, a file of this service goes without them until a manual job makes them.
 */
export const CONTENT_DERIVING_TASKS = ['image-metadata', 'thumbnail', 'poster', 'video-metadata', 'video-poster', 'video-proxy', 'backup'] as const;

export function notRemadeOnUpdate(draft: ProfileDraft): string[] {
  const tasksOf = (pipeline: PipelineDraft) => new Set(pipeline.enabled ? pipeline.steps.map((step) => step.task) : []);
  const ingest = tasksOf(draft.ingest);
  const update = tasksOf(draft.update);
  return CONTENT_DERIVING_TASKS.filter((task) => ingest.has(task) && !update.has(task));
}
