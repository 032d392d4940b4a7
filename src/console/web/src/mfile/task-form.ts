import type { OptionSpec, TaskDefinition } from './types';

/**
 * The "Run a task" form, generated from the task registry (GET /api/v1/tasks): each option's schema becomes one
 * input with a label, a hint, a default and the same checks the api makes (resolveTaskOptions in
 * src/tasks/task-catalogue.ts), so a person sees what is wrong before anything is sent. Pure: no DOM, no fetch.
 */

interface FieldBase {
  name: string;
  label: string;
  hint: string;
  required: boolean;
  /** What the input starts with (the option's default, as text). */
  initial: string;
}

export type OptionField =
  | (FieldBase & { kind: 'number'; integer: boolean; min: number; max: number; step: string })
  | (FieldBase & { kind: 'select'; choices: readonly string[] })
  | (FieldBase & { kind: 'text'; pattern: string; maxLength: number });

export type FormValues = Record<string, string>;
export type FieldErrors = Record<string, string>;

/** The key for the queue override: not a task option, but part of every job request. */
export const QUEUE_FIELD = '__queue';
export const MANUAL_PIPELINE = '__manual';
const QUEUE_PATTERN = /^(normal|priority|hardware\.[a-z0-9][a-z0-9-]{0,30})$/;

const ACRONYMS: Record<string, string> = { url: 'URL', id: 'ID', crf: 'CRF', md5: 'MD5', sha256: 'SHA-256', dpi: 'DPI' };

/** `webhookId` → "Webhook ID", `crf` → "CRF", `at` → "At". */
export function labelOf(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter(Boolean)
    .map((word) => ACRONYMS[word.toLowerCase()] ?? word.toLowerCase());
  if (words.length === 0) return name;
  const [first, ...rest] = words;
  return [first === first.toLowerCase() ? first.charAt(0).toUpperCase() + first.slice(1) : first, ...rest].join(' ');
}

/** Registry descriptions mark option values as `code`; people read them as plain text. */
export function plainText(description: string): string {
  return description.replace(/`([^`]*)`/g, '$1');
}

function hintOf(spec: OptionSpec): string {
  const description = plainText(spec.description);
  if (spec.type === 'integer' || spec.type === 'number') return `${description} (${spec.minimum}–${spec.maximum}, default ${spec.default})`;
  if (spec.type === 'string') return `${description} (default ${spec.default})`;
  return spec.default === undefined ? `${description} (required)` : description;
}

/**
 * One form field per option of the task, in the registry's order; not those that apply only without input (a
 * periodic step's: this form runs a task on a file).
 */
export function fieldsOf(task: TaskDefinition): OptionField[] {
  const onAFile = Object.entries(task.options).filter(([, spec]) => !spec.withoutInput);
  return onAFile.map(([name, spec]): OptionField => {
    const base = { name, label: labelOf(name), hint: hintOf(spec) };
    switch (spec.type) {
      case 'integer':
      case 'number':
        return {
          ...base,
          kind: 'number',
          integer: spec.type === 'integer',
          min: spec.minimum,
          max: spec.maximum,
          step: spec.type === 'integer' ? '1' : 'any',
          required: true,
          initial: String(spec.default),
        };
      case 'string':
        return { ...base, kind: 'select', choices: spec.enum, required: true, initial: spec.default };
      default:
        return { ...base, kind: 'text', pattern: spec.pattern, maxLength: spec.maxLength, required: spec.default === undefined, initial: spec.default ?? '' };
    }
  });
}

/** The values a fresh form starts with: every default filled in, the queue left to the routing rules. */
export function initialValues(fields: OptionField[]): FormValues {
  const values: FormValues = { [QUEUE_FIELD]: '' };
  for (const field of fields) values[field.name] = field.initial;
  return values;
}

const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;
const INTEGER = /^-?\d+$/;

/** Checks one field's text; returns the value to send, or the message to show beside the input. */
export function checkField(field: OptionField, raw: string | undefined): { value: unknown } | { error: string } {
  const text = (raw ?? '').trim();
  if (text === '') return { error: `${field.label} is required` };
  if (field.kind === 'number') {
    if (field.integer ? !INTEGER.test(text) : !NUMBER.test(text)) return { error: `${field.label} must be ${field.integer ? 'a whole number' : 'a number'}` };
    const value = Number(text);
    if (value < field.min || value > field.max) return { error: `${field.label} must be between ${field.min} and ${field.max}` };
    return { value };
  }
  if (field.kind === 'select') {
    if (!field.choices.includes(text)) return { error: `${field.label} must be one of ${field.choices.join(', ')}` };
    return { value: text };
  }
  if (text.length > field.maxLength) return { error: `${field.label} must be at most ${field.maxLength} characters` };
  let pattern: RegExp;
  try {
    pattern = new RegExp(field.pattern);
  } catch {
    return { value: text }; // a pattern this browser cannot read: the api still checks it
  }
  if (!pattern.test(text)) return { error: `${field.label} is not in the expected form (${describePattern(field.pattern)})` };
  return { value: text };
}

/** A few patterns the registry uses, said in words; others are shown as they are. */
function describePattern(pattern: string): string {
  if (pattern.startsWith('^https?://')) return 'an http:// or https:// address';
  if (pattern === '^[0-9a-f-]{36}$') return 'an id such as 0190a1b2-…, 36 characters';
  return `matching ${pattern}`;
}

export interface JobRequest {
  mfileIds: string[];
  task?: string;
  pipeline?: 'manual';
  options?: Record<string, unknown>;
  queue?: string;
}

/**
 * Values → the body of POST /api/v1/jobs, or the messages for the fields that are wrong (keyed by field name; the
 * queue override under QUEUE_FIELD). `task` null means the service's manual pipeline, which takes no options.
 */
export function buildJobRequest(
  task: TaskDefinition | null,
  mfileIds: string[],
  values: FormValues,
): { body: JobRequest; errors: null } | { body: null; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const options: Record<string, unknown> = {};
  for (const field of task ? fieldsOf(task) : []) {
    const checked = checkField(field, values[field.name]);
    if ('error' in checked) errors[field.name] = checked.error;
    else options[field.name] = checked.value;
  }
  const queue = (values[QUEUE_FIELD] ?? '').trim();
  if (queue && !QUEUE_PATTERN.test(queue)) errors[QUEUE_FIELD] = 'Queue must be normal, priority or hardware.<tag> (lower-case letters, digits and dashes)';
  if (Object.keys(errors).length) return { body: null, errors };
  const body: JobRequest = task ? { mfileIds, task: task.name, options } : { mfileIds, pipeline: 'manual' };
  if (queue) body.queue = queue;
  return { body, errors: null };
}

/** `image/*`-style match, as the api matches a task's inputs. */
export function acceptsMimetype(task: TaskDefinition, mimetype: string): boolean {
  const type = mimetype.toLowerCase().split(';')[0].trim();
  return task.inputs.some((glob) => glob === '*/*' || glob === type || (glob.endsWith('/*') && type.startsWith(glob.slice(0, -1))));
}

/** The tasks that fit this file first (by name), then the others, which the form offers apart. */
export function groupTasks(tasks: TaskDefinition[], mimetype: string): { fitting: TaskDefinition[]; others: TaskDefinition[] } {
  const sorted = [...tasks].sort((a, b) => a.name.localeCompare(b.name));
  return { fitting: sorted.filter((task) => acceptsMimetype(task, mimetype)), others: sorted.filter((task) => !acceptsMimetype(task, mimetype)) };
}

/**
 * Problems the api returns for a job request (`errors: ["options.width must be between 8 and 4096", ...]`) mapped
 * back onto the fields they name; what names no field stays for the form's own notice.
 */
export function errorsFromProblem(messages: unknown, fields: OptionField[]): { fieldErrors: FieldErrors; rest: string[] } {
  const fieldErrors: FieldErrors = {};
  const rest: string[] = [];
  if (!Array.isArray(messages)) return { fieldErrors, rest };
  for (const message of messages) {
    if (typeof message !== 'string') continue;
    const match = /^options\.([A-Za-z0-9_]+) (.*)$/.exec(message);
    const field = match && fields.find((candidate) => candidate.name === match[1]);
    if (field && match) fieldErrors[field.name] = `${field.label} ${match[2]}`;
    else if (/^queue /.test(message)) fieldErrors[QUEUE_FIELD] = message.charAt(0).toUpperCase() + message.slice(1);
    else rest.push(message);
  }
  return { fieldErrors, rest };
}
