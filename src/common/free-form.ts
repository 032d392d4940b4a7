/**
 * The rules of free-form `properties` (containers, services), stored as jsonb. Free of Node and NestJS so that the
 * console checks rows with the same rules as the server (src/console/web/src/settings/custom-properties.ts).
 */

export const FREE_FORM_LIMITS = { maxBytes: 64 * 1024, maxDepth: 16, maxNameLength: 255 } as const;

/** jsonb holds neither NUL nor half of a UTF-16 surrogate pair (JSON.parse accepts both, as "\u0000" and "\ud800"). */
export function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL characters';
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)) return 'must not contain unpaired UTF-16 surrogates';
  return null;
}

/** The deepest nesting of objects and arrays in a JSON value (a scalar is 0, `{}` is 1). */
export function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  for (const child of Object.values(value as Record<string, unknown>)) deepest = Math.max(deepest, depthOf(child));
  return 1 + deepest;
}

/** The first text problem anywhere in a JSON value, names included. */
export function textProblemIn(value: unknown): string | null {
  if (typeof value === 'string') return textProblem(value);
  if (value === null || typeof value !== 'object') return null;
  for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
    const problem = textProblem(name) ?? textProblemIn(child);
    if (problem) return problem;
  }
  return null;
}

/** UTF-8 bytes of the value as JSON. */
export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).length;
}

/**
 * Why a free-form properties value cannot be stored, or null when it can: a JSON object of at most 64 KiB, 16 levels
 * deep, with non-empty names of at most 255 characters, and no NUL or unpaired surrogate anywhere (PostgreSQL's jsonb
 * refuses both, which would otherwise surface as a 500).
 */
export function freeFormPropertiesProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'must be a JSON object';
  for (const name of Object.keys(value)) {
    if (name.length === 0) return 'must not have an empty property name';
    if (name.length > FREE_FORM_LIMITS.maxNameLength) return `must have property names of at most ${FREE_FORM_LIMITS.maxNameLength} characters`;
  }
  if (depthOf(value) > FREE_FORM_LIMITS.maxDepth) return `must be nested at most ${FREE_FORM_LIMITS.maxDepth} levels deep`;
  const problem = textProblemIn(value);
  if (problem) return problem;
  const bytes = jsonBytes(value);
  if (bytes > FREE_FORM_LIMITS.maxBytes) return `must be at most ${FREE_FORM_LIMITS.maxBytes} bytes as JSON (is ${bytes})`;
  return null;
}
