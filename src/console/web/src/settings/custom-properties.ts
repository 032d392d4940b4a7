import { depthOf, FREE_FORM_LIMITS, jsonBytes, textProblem, textProblemIn } from '../../../../common/free-form';

/**
 * The rows editor of a service's free-form `properties`, free of the DOM. Each row is a name, a type and the value as
 * typed; the object sent is built from the rows. The rules are the server's own (src/common/free-form.ts), said in
 * the form's words; the server's 400 answers are shown too.
 */

export const CUSTOM_TYPES = ['text', 'number', 'boolean', 'json'] as const;
export type CustomType = (typeof CUSTOM_TYPES)[number];

export interface CustomRow {
  name: string;
  type: CustomType;
  /** As typed: 'true'/'false' for booleans, JSON text for json. */
  value: string;
}

export interface CustomRowErrors {
  name?: string;
  value?: string;
}

export const CUSTOM_TYPE_LABELS: Record<CustomType, string> = { text: 'Text', number: 'Number', boolean: 'Yes/no', json: 'JSON' };

/** A row per property, by name (PostgreSQL keeps jsonb keys in its own order: shortest first). */
export function rowsFromProperties(properties: Record<string, unknown> | null | undefined): CustomRow[] {
  const entries = Object.entries(properties ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.map(([name, value]): CustomRow => {
    if (typeof value === 'string') return { name, type: 'text', value };
    if (typeof value === 'number') return { name, type: 'number', value: String(value) };
    if (typeof value === 'boolean') return { name, type: 'boolean', value: String(value) };
    return { name, type: 'json', value: JSON.stringify(value) };
  });
}

/** A row nobody filled in is left out rather than refused. */
export function isBlankRow(row: CustomRow): boolean {
  return row.name.trim() === '' && row.value.trim() === '' && row.type !== 'boolean';
}

const UNSTORABLE = 'Cannot contain a NUL character or half of a surrogate pair.';

/** The value a row stands for, or the reason it stands for none. */
export function parseRowValue(row: CustomRow): { value: unknown } | { problem: string } {
  switch (row.type) {
    case 'text':
      return textProblem(row.value) ? { problem: UNSTORABLE } : { value: row.value };
    case 'number': {
      const text = row.value.trim();
      const number = Number(text);
      if (text === '' || !Number.isFinite(number)) return { problem: 'Enter a number, such as 42 or 0.5.' };
      return { value: number };
    }
    case 'boolean':
      if (row.value !== 'true' && row.value !== 'false') return { problem: 'Choose yes or no.' };
      return { value: row.value === 'true' };
    case 'json': {
      let value: unknown;
      try {
        value = JSON.parse(row.value);
      } catch (caught) {
        return { problem: `Not valid JSON: ${caught instanceof Error ? caught.message : String(caught)}` };
      }
      // the property's own object counts as the second level under `properties`
      if (depthOf(value) > FREE_FORM_LIMITS.maxDepth - 1) return { problem: `Nested more than ${FREE_FORM_LIMITS.maxDepth - 1} levels deep.` };
      if (textProblemIn(value)) return { problem: UNSTORABLE };
      return { value };
    }
  }
}

/** Errors per row (same index as the rows), and a general one for the whole set (its size). */
export function validateCustomRows(rows: readonly CustomRow[]): { rows: CustomRowErrors[]; general: string | null } {
  const seen = new Map<string, number>();
  const errors = rows.map((row, index): CustomRowErrors => {
    if (isBlankRow(row)) return {};
    const found: CustomRowErrors = {};
    if (row.name === '') found.name = 'A name is required.';
    else if (row.name.length > FREE_FORM_LIMITS.maxNameLength) found.name = `At most ${FREE_FORM_LIMITS.maxNameLength} characters.`;
    else if (textProblem(row.name)) found.name = UNSTORABLE;
    else if (seen.has(row.name)) found.name = `Same name as row ${(seen.get(row.name) ?? 0) + 1}.`;
    else seen.set(row.name, index);
    const parsed = parseRowValue(row);
    if ('problem' in parsed) found.value = parsed.problem;
    return found;
  });
  let general: string | null = null;
  if (errors.every((each) => !each.name && !each.value)) {
    const bytes = jsonBytes(propertiesFromRows(rows));
    if (bytes > FREE_FORM_LIMITS.maxBytes) general = `At most ${FREE_FORM_LIMITS.maxBytes / 1024} KiB as JSON altogether (now ${Math.ceil(bytes / 1024)} KiB).`;
  }
  return { rows: errors, general };
}

/** The object the rows stand for; rows that do not parse are left out (validate first). */
export function propertiesFromRows(rows: readonly CustomRow[]): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const row of rows) {
    if (isBlankRow(row)) continue;
    const parsed = parseRowValue(row);
    // defined, not assigned: a property named __proto__ is a property like any other
    if ('value' in parsed) Object.defineProperty(properties, row.name, { value: parsed.value, enumerable: true, writable: true, configurable: true });
  }
  return properties;
}

/** JSON with object keys sorted, so that two objects differing only in key order compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sameProperties(a: Record<string, unknown> | null | undefined, b: Record<string, unknown> | null | undefined): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}
