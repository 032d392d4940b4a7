import { CronExpressionParser } from 'cron-parser';
import type { StepCondition } from '../jobs/step-condition';
import { assertQueueName } from '../queues/queue-catalogue';
import { isTaskName, mimetypeMatches, resolveTaskOptions, TaskName, TASKS } from '../tasks/task-catalogue';

export const TRIGGERS = ['ingest', 'update', 'access', 'periodic', 'manual'] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** One step of a pipeline: a task, its options, a condition (data, never code), a queue override, and edges. */
export interface ProfileStep {
  name: string;
  task: TaskName;
  options: Record<string, unknown>;
  when?: StepCondition;
  queue?: string;
  /** Names of steps of the same pipeline that must succeed (or be skipped) first. */
  after: string[];
  /**
   * `mime`, `md5`, `sha256` and `backup` only: run the task on the stored bytes even when the run starts with bytes
   * just received, whose type and digests the upload already found (without it such a step is recorded as a fact at
   * commit; see planRun).
   */
  verify?: true;
  /**
   * `none`: the step runs once per tick of the periodic pipeline, for the service, with no input file (only tasks
   * whose catalogue entry has `withoutInput`, such as `fetch-url` into a folder). Absent: once per file, as every step.
   */
  input?: 'none';
}

/** A step that runs with no input file (once per periodic tick, for the service). */
export const runsWithoutInput = (step: Pick<ProfileStep, 'input'>): boolean => step.input === 'none';

export interface Pipeline {
  steps: ProfileStep[];
  /** Cron expression (5 or 6 fields, UTC), `periodic` only. */
  schedule?: string;
}

export type ProfileDefinition = Partial<Record<Trigger, Pipeline>>;

const STEP_NAME = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const MIME_GLOB = /^([a-z0-9][a-z0-9!#$&^_.+-]{0,126}|\*)\/([a-z0-9][a-z0-9!#$&^_.+-]{0,126}|\*)$/i;
export const MAX_STEPS = 50;

/** MServe's own profile, what every service starts with. */
export function defaultProfile(): ProfileDefinition {
  const images = { mimetypes: ['image/*'] };
  const videos = { mimetypes: ['video/*'] };
  const step = (name: string, task: TaskName, after: string[], when?: StepCondition, options: Record<string, unknown> = {}): ProfileStep => ({
    name,
    task,
    options: resolveTaskOptions(TASKS[task], options).options,
    ...(when ? { when } : {}),
    after,
  });
  // what ingest finds out about the bytes is found out again when they are replaced (a replace drops what described
  // the old bytes: dimensions, renditions, backup)
  const derive = () => [
    step('mime', TaskName.Mime, []),
    step('md5', TaskName.Md5, ['mime']),
    step('image-metadata', TaskName.ImageMetadata, ['mime'], images),
    step('thumbnail', TaskName.Thumbnail, ['mime'], images, { width: 210, height: 128 }),
    step('poster', TaskName.Poster, ['mime'], images, { width: 420, height: 256 }),
    step('video-metadata', TaskName.VideoMetadata, ['mime'], videos),
    step('video-poster', TaskName.VideoPoster, ['video-metadata'], videos),
    step('video-proxy', TaskName.VideoProxy, ['video-metadata'], videos),
    step('backup', TaskName.Backup, ['md5']),
  ];
  return { ingest: { steps: derive() }, update: { steps: derive() } };
}

export class ProfileErrors extends Error {
  constructor(readonly errors: string[]) {
    super(errors.join('; '));
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Validates a profile as a client sent it and returns it normalised (options completed with their defaults).
 * Every problem is listed: unknown trigger or task, bad option, bad condition or queue, an `after` naming no step,
 * a cycle, a schedule that is not a cron expression.
 */
export function validateProfile(input: unknown, limits: { minIntervalSeconds: number } = { minIntervalSeconds: 60 }): ProfileDefinition {
  const errors: string[] = [];
  if (!isObject(input)) throw new ProfileErrors(['the profile must be an object with one pipeline per trigger (ingest, update, access, periodic, manual)']);
  const profile: ProfileDefinition = {};
  for (const [trigger, value] of Object.entries(input)) {
    if (!(TRIGGERS as readonly string[]).includes(trigger)) {
      errors.push(`${trigger} is not a trigger (use ${TRIGGERS.join(', ')})`);
      continue;
    }
    const pipeline = validatePipeline(trigger as Trigger, value, errors, limits.minIntervalSeconds);
    if (pipeline) profile[trigger as Trigger] = pipeline;
  }
  if (errors.length) throw new ProfileErrors(errors);
  return profile;
}

function validatePipeline(trigger: Trigger, value: unknown, errors: string[], minIntervalSeconds: number): Pipeline | undefined {
  if (!isObject(value)) {
    errors.push(`${trigger} must be an object with steps`);
    return undefined;
  }
  for (const key of Object.keys(value))
    if (key !== 'steps' && key !== 'schedule') errors.push(`${trigger}.${key} is not a pipeline property (steps, schedule)`);
  const pipeline: Pipeline = { steps: [] };
  if (trigger === 'periodic') {
    if (typeof value.schedule !== 'string') errors.push('periodic.schedule is required: a cron expression such as "0 3 * * *"');
    else {
      const fields = value.schedule.trim().split(/\s+/).length;
      try {
        if (fields < 5 || fields > 6) throw new Error('it needs 5 or 6 fields');
        const expression = CronExpressionParser.parse(value.schedule, { tz: 'UTC' });
        // every tick walks the whole service: ticks closer than the minimum would flood the queues
        const ticks = [0, 1, 2, 3].map(() => expression.next().getTime());
        const closest = Math.min(...ticks.slice(1).map((tick, index) => tick - ticks[index])) / 1000;
        if (closest < minIntervalSeconds)
          throw new Error(`it fires every ${closest} s; the minimum is ${minIntervalSeconds} s (PERIODIC_MIN_INTERVAL_SECONDS)`);
        pipeline.schedule = value.schedule.trim();
      } catch (error) {
        errors.push(`periodic.schedule "${value.schedule}" is not a cron expression: ${(error as Error).message}`);
      }
    }
  } else if (value.schedule !== undefined) errors.push(`${trigger}.schedule: only the periodic pipeline has a schedule`);
  if (!Array.isArray(value.steps)) {
    errors.push(`${trigger}.steps must be an array`);
    return undefined;
  }
  if (value.steps.length > MAX_STEPS) errors.push(`${trigger}.steps has ${value.steps.length} steps; at most ${MAX_STEPS}`);
  const names = new Set<string>();
  value.steps.forEach((raw: unknown, index: number) => {
    const path = `${trigger}.steps[${index}]`;
    if (!isObject(raw)) {
      errors.push(`${path} must be an object`);
      return;
    }
    for (const key of Object.keys(raw))
      if (!STEP_PROPERTIES.includes(key)) errors.push(`${path}.${key} is not a step property (${STEP_PROPERTIES.join(', ')})`);
    const task = typeof raw.task === 'string' ? raw.task : '';
    if (!isTaskName(task)) {
      errors.push(`${path}.task "${String(raw.task)}" is not a task (see GET /api/v1/tasks)`);
      return;
    }
    const withoutInput = validateInput(trigger, task, raw, path, errors);
    const name = raw.name === undefined ? task : raw.name;
    if (typeof name !== 'string' || !STEP_NAME.test(name)) errors.push(`${path}.name must match ${STEP_NAME}`);
    else if (names.has(name)) errors.push(`${path}.name "${name}" is used twice in ${trigger}`);
    else names.add(name);
    if (raw.options !== undefined && !isObject(raw.options)) errors.push(`${path}.options must be an object`);
    const resolved = resolveTaskOptions(TASKS[task], isObject(raw.options) ? raw.options : undefined, `${path}.options`, { withoutInput });
    errors.push(...resolved.errors);
    const step: ProfileStep = { name: String(name), task, options: resolved.options, after: [] };
    if (withoutInput) step.input = 'none';
    if (raw.when !== undefined) {
      if (withoutInput) errors.push(`${path}.when: a step without input has no file to test (remove when)`);
      else step.when = validateCondition(raw.when, `${path}.when`, errors);
    }
    if (raw.verify !== undefined) {
      if (raw.verify !== true && raw.verify !== false) errors.push(`${path}.verify must be true or false`);
      else if (!FACT_TASKS.includes(task))
        errors.push(
          `${path}.verify: only ${FACT_TASKS.slice(0, -1).join(', ')} and ${FACT_TASKS[FACT_TASKS.length - 1]} steps can be facts, so only they take verify`,
        );
      else if (raw.verify) step.verify = true;
    }
    if (raw.queue !== undefined) {
      try {
        step.queue = assertQueueName(String(raw.queue));
      } catch {
        errors.push(`${path}.queue "${String(raw.queue)}" is not normal, priority or hardware.<tag>`);
      }
    }
    if (raw.after !== undefined) {
      if (!Array.isArray(raw.after) || raw.after.some((entry) => typeof entry !== 'string')) errors.push(`${path}.after must be an array of step names`);
      else step.after = [...new Set(raw.after as string[])];
    }
    pipeline.steps.push(step);
  });
  const byName = new Map(pipeline.steps.map((step) => [step.name, step]));
  for (const step of pipeline.steps) {
    for (const prerequisite of step.after) {
      if (prerequisite === step.name) errors.push(`${trigger}: step "${step.name}" cannot come after itself`);
      else if (!names.has(prerequisite)) errors.push(`${trigger}: step "${step.name}" comes after "${prerequisite}", which is not a step of ${trigger}`);
      else if (byName.has(prerequisite) && runsWithoutInput(step) !== runsWithoutInput(byName.get(prerequisite)!)) {
        // the steps without input make one run per tick, the others one run per file: no edge joins two runs
        const mode = (one: ProfileStep) => (runsWithoutInput(one) ? 'runs once per tick without input' : 'runs once per file');
        errors.push(
          `${trigger}: step "${step.name}" ${mode(step)} and cannot come after "${prerequisite}", which ${mode(byName.get(prerequisite)!)} (they are separate runs)`,
        );
      }
    }
  }
  const cycle = findCycle(pipeline.steps);
  if (cycle) errors.push(`${trigger}: the steps form a cycle: ${cycle.join(' → ')}`);
  return pipeline;
}

const STEP_PROPERTIES = ['name', 'task', 'options', 'when', 'queue', 'after', 'verify', 'input'];

/** A step's `input`: whether it runs without an input file (`"none"`), where that is allowed. */
function validateInput(trigger: Trigger, task: TaskName, raw: Record<string, unknown>, path: string, errors: string[]): boolean {
  if (raw.input === undefined || raw.input === 'file') return false;
  if (raw.input !== 'none') {
    errors.push(`${path}.input must be "none" (once per tick, without an input file) or "file" (once per file, the default)`);
    return false;
  }
  if (trigger !== 'periodic') {
    errors.push(`${path}.input: only periodic steps can run without an input file (a ${trigger} run starts from a file)`);
    return false;
  }
  if (!TASKS[task].withoutInput) {
    const able = Object.values(TASKS)
      .filter((definition) => definition.withoutInput)
      .map((definition) => definition.name);
    errors.push(`${path}.input: ${task} reads an input file; only ${able.join(', ')} can run without one`);
    return false;
  }
  return true;
}

function validateCondition(value: unknown, path: string, errors: string[]): StepCondition | undefined {
  if (!isObject(value)) {
    errors.push(`${path} must be an object (mimetypes, minSize, maxSize)`);
    return undefined;
  }
  const condition: StepCondition = {};
  for (const key of Object.keys(value))
    if (!['mimetypes', 'minSize', 'maxSize'].includes(key)) errors.push(`${path}.${key} is not a condition (mimetypes, minSize, maxSize)`);
  if (value.mimetypes !== undefined) {
    if (!Array.isArray(value.mimetypes) || value.mimetypes.length === 0 || value.mimetypes.some((glob) => typeof glob !== 'string' || !MIME_GLOB.test(glob))) {
      errors.push(`${path}.mimetypes must be a non-empty array of types or globs such as image/jpeg, image/*`);
    } else condition.mimetypes = (value.mimetypes as string[]).map((glob) => glob.toLowerCase());
  }
  for (const bound of ['minSize', 'maxSize'] as const) {
    const size = value[bound];
    if (size === undefined) continue;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) errors.push(`${path}.${bound} must be a whole number of bytes`);
    else condition[bound] = size;
  }
  if (condition.minSize !== undefined && condition.maxSize !== undefined && condition.minSize > condition.maxSize)
    errors.push(`${path}: minSize is larger than maxSize`);
  return condition;
}

/** A cycle among the `after` edges, as the list of step names around it, or undefined. */
export function findCycle(steps: Pick<ProfileStep, 'name' | 'after'>[]): string[] | undefined {
  const byName = new Map(steps.map((step) => [step.name, step]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    path.push(name);
    for (const next of byName.get(name)?.after ?? []) {
      if (!byName.has(next)) continue;
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const step of steps) {
    const cycle = visit(step.name);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Whether an input matches a condition; undefined when it does, else why not. */
export function conditionMismatch(condition: StepCondition | null | undefined, input: { mimetype: string; size: number }): string | undefined {
  if (!condition) return undefined;
  if (condition.mimetypes && !mimetypeMatches(input.mimetype, condition.mimetypes)) {
    return `the input is ${input.mimetype}, not ${condition.mimetypes.join(' or ')}`;
  }
  if (condition.minSize !== undefined && input.size < condition.minSize) return `the input has ${input.size} bytes, fewer than ${condition.minSize}`;
  if (condition.maxSize !== undefined && input.size > condition.maxSize) return `the input has ${input.size} bytes, more than ${condition.maxSize}`;
  return undefined;
}

/**
 * Tasks whose result the commit of new bytes already knows: the upload detected the type from the first bytes and
 * computed the MD5 while streaming, exactly as these tasks would on the stored bytes; and, for a small upload
 * without quotas, made the verified backup copy the backup task would make (`KnownInput.fresh.backup`).
 */
export const FACT_TASKS: readonly TaskName[] = [TaskName.Mime, TaskName.Md5, TaskName.Sha256, TaskName.Backup];

/** A verified backup copy of fresh bytes, made by their creator before the commit (the backup port's `put`). */
export interface BackupFact {
  sha256: string;
  size: number;
  /** False when a verified copy of the same bytes was there already (nothing new on disk). */
  created: boolean;
  at: string;
}

/** What the creator of a run knows about its input: its type and size, and, for bytes it just received, their digests. */
export interface KnownInput {
  mimetype: string;
  size: number;
  /**
   * The bytes were just received (an upload, a replace, a copy): `mimetype` was detected from their first bytes, so
   * `mime` steps are facts; `md5` and `sha256` when they were computed from the bytes themselves as they streamed in
   * (not for a copy, whose digests are its source's as recorded), so those steps are facts too.
   */
  fresh?: { md5?: string; sha256?: string; backup?: BackupFact };
}

/** One step of a run as it will be created. */
export interface PlannedStep {
  step: ProfileStep;
  /** Its prerequisites among the steps created (a left-out step's own prerequisites stand in for it). */
  after: string[];
  /** A fact: created `succeeded` with this result, never queued. */
  fact?: { result: Record<string, unknown>; backup?: BackupFact };
  /** Created runnable (queued): no prerequisite, or only facts. */
  ready: boolean;
  /** The condition its job keeps for when it becomes runnable: null once decided here (or when it has none). */
  condition: StepCondition | null;
}

/** A step the commit may record as a fact: one that asks for nothing of its own (options, a re-verification, a queue). */
const mayBeFact = (step: ProfileStep) => !step.verify && !step.queue && Object.keys(step.options).length === 0;

/**
 * Whether a run planned without a backup copy would record one as a fact if its creator made the copy first: a
 * `backup` step that runs at once (after facts alone) and asks for nothing of its own.
 */
export function wantsBackupFact(planned: PlannedStep[]): boolean {
  return planned.some(({ step, ready, fact }) => step.task === TaskName.Backup && ready && !fact && mayBeFact(step));
}

/**
 * A pipeline as one run on a known input creates it (the rule, docs/architecture.md "Tasks, pipelines, queues"):
 *
 * - **Conditions at instantiation.** A step whose `when` does not hold for the input's type and size is not created;
 *   the steps after it come after its own prerequisites instead (transitively), so the order of the DAG holds. A
 *   step downstream of a job that may change the input's type or bytes (a `mime` that runs, a task that replaces
 *   content) keeps its condition for when it becomes runnable, where it may still end `skipped`.
 * - **Facts at commit.** When the run starts with bytes just received, a `mime`, `md5` or `sha256` step is a fact:
 *   created `succeeded` with the result the task would give (the same detector on the same first bytes; the digests
 *   computed while streaming), metered like any job, never queued; unless it asks to run (`verify: true`, or a `queue` of its
 *   own) or comes after a job that is not a fact (it waits for that job, and fails with it, as any step). So is a
 *   `backup` step when the creator made the verified copy before the commit (`fresh.backup`, see `wantsBackupFact`).
 * - Steps whose prerequisites are all facts (or none) are runnable at once.
 *
 * Without `known`, every step is created and every condition waits for its step to become runnable.
 */
export function planRun(pipeline: Pipeline, known?: KnownInput): PlannedStep[] {
  const byName = new Map(pipeline.steps.map((step) => [step.name, step]));
  const planned = new Map<string, PlannedStep>();
  /** Left-out steps: the created steps that stand in for them. */
  const leftOut = new Map<string, string[]>();
  /** Steps after (or being) a job that may change the input's type or bytes. */
  const unsettled = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (planned.has(name) || leftOut.has(name) || visiting.has(name)) return;
    visiting.add(name);
    const step = byName.get(name)!;
    for (const prerequisite of step.after) if (byName.has(prerequisite)) visit(prerequisite);
    const after = [...new Set(step.after.filter((p) => byName.has(p)).flatMap((p) => leftOut.get(p) ?? [p]))];
    const downstreamOfChange = after.some((p) => unsettled.has(p));
    if (known && !downstreamOfChange && conditionMismatch(step.when, known) !== undefined) {
      leftOut.set(name, after);
      return;
    }
    const ready = after.every((p) => planned.get(p)?.fact !== undefined);
    let fact: PlannedStep['fact'];
    // a fact only where the step would run at once: after facts alone (else it waits for, and fails with, its prerequisites)
    if (known?.fresh && ready && mayBeFact(step)) {
      if (step.task === TaskName.Mime) fact = { result: { mimetype: known.mimetype, previous: known.mimetype, changed: false } };
      else if (step.task === TaskName.Md5 && known.fresh.md5) fact = { result: { md5: known.fresh.md5, matchesRecorded: true } };
      else if (step.task === TaskName.Sha256 && known.fresh.sha256) fact = { result: { sha256: known.fresh.sha256, matchesRecorded: true } };
      else if (step.task === TaskName.Backup && known.fresh.backup) {
        const { sha256, size, created } = known.fresh.backup;
        fact = { result: { sha256, size, created }, backup: known.fresh.backup };
      }
    }
    const changes = !fact && (step.task === TaskName.Mime || TASKS[step.task].changesContent === true);
    if (downstreamOfChange || changes) unsettled.add(name);
    planned.set(name, {
      step,
      after,
      ...(fact ? { fact } : {}),
      ready,
      condition: step.when && (!known || downstreamOfChange) ? step.when : null,
    });
  };
  for (const step of pipeline.steps) visit(step.name);
  // in the profile's own order (the order jobs are listed in), not the order they were visited in
  return pipeline.steps.filter((step) => planned.has(step.name)).map((step) => planned.get(step.name)!);
}
