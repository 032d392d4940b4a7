/**
 * The management forms' rules, apart from the page: the text each field starts with, what is wrong with what was
 * typed (shown under the field as you type), and the PATCH body — only what changed, so a form never overwrites
 * a property someone else set meanwhile with the value it happened to load.
 */
import { appQuotasProblem } from '../../../../common/app-quotas';
import { parseUtcInput, utcInput } from './range';
import { bytesInput, parseByteRate, parseBytes, parseSeconds, Parsed, secondsInput } from './units';

/** What the forms need of a service or container (GET /services/:id, GET /containers/:id). */
export interface ManagedLimits {
  suspended: boolean;
  diskQuota: number | null;
  ingestQuota: number | null;
  jobruntimeQuota: number | null;
  /** Monthly limits on the application's own metrics (app/<name>), by name; null or absent: none. */
  appQuotas?: Record<string, number> | null;
}

export interface ManagedService extends ManagedLimits {
  id: string;
  containerId: string;
  name: string;
  startsAt: string | null;
  endsAt: string | null;
  priority: boolean;
  accessSpeed: number | null;
}

export interface ManagedContainer extends ManagedLimits {
  id: string;
  name: string;
}

export interface LimitFields {
  diskQuota: string;
  ingestQuota: string;
  jobruntimeQuota: string;
  /** One `name = limit` per line. */
  appQuotas: string;
  suspended: boolean;
}

export interface ServiceFields extends LimitFields {
  accessSpeed: string;
  startsAt: string;
  endsAt: string;
  priority: boolean;
}

export type FieldErrors<F> = Partial<Record<keyof F, string>>;

export interface FormResult<F> {
  /** Only the properties that differ from what was loaded. */
  body: Record<string, unknown>;
  errors: FieldErrors<F>;
}

export function limitFields(limits: ManagedLimits): LimitFields {
  return {
    diskQuota: bytesInput(limits.diskQuota),
    ingestQuota: bytesInput(limits.ingestQuota),
    jobruntimeQuota: secondsInput(limits.jobruntimeQuota),
    appQuotas: appQuotasInput(limits.appQuotas ?? null),
    suspended: limits.suspended,
  };
}

/** The application metrics a service or container limits, in name order. */
export function appQuotaEntries(quotas: Record<string, number> | null | undefined): Array<[name: string, limit: number]> {
  return Object.entries(quotas ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The text of the application-quota field: one `name = limit` per line, in name order. */
export function appQuotasInput(quotas: Record<string, number> | null): string {
  return appQuotaEntries(quotas)
    .map(([name, limit]) => `${name} = ${limit}`)
    .join('\n');
}

/** Reads the application-quota field: a map (null when empty), or what is wrong on which line, in the API's words. */
export function parseAppQuotas(text: string): { ok: true; quotas: Record<string, number> | null } | { ok: false; error: string } {
  const quotas: Record<string, number> = {};
  const lines = text.split('\n').map((line) => line.trim());
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const match = /^(\S+)\s*[=:]\s*(\S+)$/.exec(lines[i]);
    const limit = match ? Number(match[2].replace(/[_,]/g, '')) : NaN;
    if (!match || !Number.isFinite(limit))
      return { ok: false, error: `line ${i + 1}: write one metric per line as name = limit (e.g. pages-rendered = 10000)` };
    const name = match[1].replace(/^app\//, '');
    if (Object.hasOwn(quotas, name)) return { ok: false, error: `line ${i + 1}: ${name} is limited twice` };
    quotas[name] = limit;
  }
  const problem = appQuotasProblem(quotas);
  if (problem) return { ok: false, error: `the list ${problem}` };
  return { ok: true, quotas: Object.keys(quotas).length ? quotas : null };
}

const sameQuotas = (a: Record<string, number> | null, b: Record<string, number> | null) => appQuotasInput(a) === appQuotasInput(b);

export function serviceFields(service: ManagedService): ServiceFields {
  return {
    ...limitFields(service),
    accessSpeed:
      service.accessSpeed === null ? '' : /\s/.test(bytesInput(service.accessSpeed)) ? `${bytesInput(service.accessSpeed)}/s` : bytesInput(service.accessSpeed),
    startsAt: service.startsAt ? utcInput(new Date(service.startsAt)) : '',
    endsAt: service.endsAt ? utcInput(new Date(service.endsAt)) : '',
    priority: service.priority,
  };
}

/** Reads the three quotas and the suspension into the result. */
function readLimits<F extends LimitFields>(original: ManagedLimits, fields: F, result: FormResult<F>): void {
  const quota = (name: 'diskQuota' | 'ingestQuota' | 'jobruntimeQuota', parsed: Parsed) => {
    if (!parsed.ok) result.errors[name] = parsed.error;
    else if (parsed.value !== original[name]) result.body[name] = parsed.value;
  };
  quota('diskQuota', parseBytes(fields.diskQuota));
  quota('ingestQuota', parseBytes(fields.ingestQuota));
  quota('jobruntimeQuota', parseSeconds(fields.jobruntimeQuota));
  const app = parseAppQuotas(fields.appQuotas);
  if (!app.ok) result.errors.appQuotas = app.error;
  else if (!sameQuotas(app.quotas, original.appQuotas ?? null)) result.body.appQuotas = app.quotas;
  if (fields.suspended !== original.suspended) result.body.suspended = fields.suspended;
}

export function containerChanges(original: ManagedContainer, fields: LimitFields): FormResult<LimitFields> {
  const result: FormResult<LimitFields> = { body: {}, errors: {} };
  readLimits(original, fields, result);
  return result;
}

/** The API refuses an access speed under 1 KiB/s (it would stall a download) and a window that ends before it starts. */
export const MIN_ACCESS_SPEED = 1024;

export function serviceChanges(original: ManagedService, fields: ServiceFields): FormResult<ServiceFields> {
  const result: FormResult<ServiceFields> = { body: {}, errors: {} };
  readLimits(original, fields, result);
  const speed = parseByteRate(fields.accessSpeed);
  if (!speed.ok) result.errors.accessSpeed = speed.error;
  else if (speed.value !== null && speed.value < MIN_ACCESS_SPEED)
    result.errors.accessSpeed = 'at least 1 KiB/s (1024 bytes per second), or empty for no limit';
  else if (speed.value !== original.accessSpeed) result.body.accessSpeed = speed.value;

  const instant = (name: 'startsAt' | 'endsAt'): Date | null | undefined => {
    const text = fields[name].trim();
    if (text === '') return null;
    const date = parseUtcInput(text);
    if (!date) result.errors[name] = 'a date and time (UTC), or empty';
    return date ?? undefined;
  };
  const startsAt = instant('startsAt');
  const endsAt = instant('endsAt');
  if (startsAt && endsAt && startsAt >= endsAt) result.errors.endsAt = 'the window must end after it starts';
  const same = (value: Date | null, loaded: string | null) => (value === null ? loaded === null : loaded !== null && value.getTime() === Date.parse(loaded));
  // datetime-local has minute precision: an untouched field keeps the loaded instant's seconds
  const untouched = (name: 'startsAt' | 'endsAt') => fields[name] === (original[name] ? utcInput(new Date(original[name]!)) : '');
  if (startsAt !== undefined && !untouched('startsAt') && !same(startsAt, original.startsAt)) result.body.startsAt = startsAt?.toISOString() ?? null;
  if (endsAt !== undefined && !untouched('endsAt') && !same(endsAt, original.endsAt)) result.body.endsAt = endsAt?.toISOString() ?? null;
  if (fields.priority !== original.priority) result.body.priority = fields.priority;
  return result;
}

/** The parsed value of a field as a hint under it ("= 5,368,709,120 bytes"), or null when there is nothing to add. */
export function fieldHint(kind: 'bytes' | 'rate' | 'seconds', text: string): string | null {
  const parsed = kind === 'bytes' ? parseBytes(text) : kind === 'rate' ? parseByteRate(text) : parseSeconds(text);
  if (!parsed.ok) return null;
  if (parsed.value === null) return 'no limit';
  const number = new Intl.NumberFormat('en', { maximumFractionDigits: 3 }).format(parsed.value);
  return kind === 'bytes' ? `= ${number} bytes` : kind === 'rate' ? `= ${number} bytes per second` : `= ${number} seconds`;
}
