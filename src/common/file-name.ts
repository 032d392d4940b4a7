/**
 * The one file-name rule, shared by the API (`IsSafeName`, WebDAV paths, uploads) and the console, which checks a
 * name before sending it. Names become WebDAV path segments and download file names. Every name is taken in
 * Unicode NFC (`normalizeName`) before it is checked, compared or stored, so "é" precomposed and "e" + U+0301
 * (macOS sends the latter) are one name; format characters (Unicode category Cf: zero-width spaces and joiners,
 * bidirectional controls such as U+202E, the BOM, …) are refused, so two names that look the same are the same.
 *
 * Node-free on purpose: the console imports this file (see NODE_FREE_SHARED in eslint.config.mjs), so no Buffer, no
 * Nest, no class-validator here.
 */

/** A name is at most this many bytes of UTF-8 (a common file-system limit). */
export const FILE_NAME_MAX_BYTES = 255;

/** What is wrong with a name, in the order the rule checks. Each side words it its own way. */
export type FileNameProblem = 'empty' | 'too-long' | 'dot' | 'separator' | 'control' | 'format' | 'padded';

/** The API's wording, after the field's name: "name must not be empty". */
export const FILE_NAME_REASONS: Readonly<Record<FileNameProblem, string>> = {
  empty: 'must not be empty',
  'too-long': `must be at most ${FILE_NAME_MAX_BYTES} bytes of UTF-8`,
  dot: 'must not be . or ..',
  separator: 'must not contain / or \\',
  control: 'must not contain NUL or control characters',
  format: 'must not contain invisible format characters (Unicode Cf: zero-width and bidirectional controls)',
  padded: 'must not start or end with whitespace',
};

/**
 * Bytes `text` takes in UTF-8, as Node's `Buffer.byteLength` and the browser's `TextEncoder` count them: a lone
 * surrogate is written as U+FFFD, three bytes.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length && isLowSurrogate(text.charCodeAt(index + 1))) {
      bytes += 4;
      index += 1;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** C0 controls (NUL included) and DEL. */
function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    if (unit <= 0x1f || unit === 0x7f) return true;
  }
  return false;
}

/** A name as MServe keeps and compares it: Unicode NFC. */
export function normalizeName(name: string): string {
  return name.normalize('NFC');
}

const FORMAT_CHARACTER = /\p{Cf}/u;

/** The first format character (Unicode Cf) in `text` as U+XXXX, or null. */
export function formatCharacterIn(text: string): string | null {
  const found = FORMAT_CHARACTER.exec(text);
  return found ? `U+${found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : null;
}

/** What is wrong with `name` as a file or folder name, or null when it is fine (give it normalised: `normalizeName`). */
export function fileNameProblem(name: string): FileNameProblem | null {
  if (name.length === 0) return 'empty';
  if (utf8ByteLength(name) > FILE_NAME_MAX_BYTES) return 'too-long';
  if (name === '.' || name === '..') return 'dot';
  if (name.includes('/') || name.includes('\\')) return 'separator';
  if (hasControlCharacter(name)) return 'control';
  if (FORMAT_CHARACTER.test(name)) return 'format';
  if (name !== name.trim()) return 'padded';
  return null;
}

/** Why a value is unsafe as a name, in the API's words, or null when it is fine. */
export function unsafeNameReason(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  const problem = fileNameProblem(value);
  if (problem === 'format') return `${FILE_NAME_REASONS.format}: ${formatCharacterIn(value)}`;
  return problem === null ? null : FILE_NAME_REASONS[problem];
}
