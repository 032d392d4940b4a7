/**
 * Text a person types for limits — "5 GiB", "500 MB", "1.5 TiB", "2 h", "90 min" — to the whole numbers the API
 * takes (bytes, seconds), and back. Pure functions: the management forms validate with them as you type.
 */

/** What a field holds: a number, "no limit" (empty text), or why the text is not understood. */
export type Parsed = { ok: true; value: number | null } | { ok: false; error: string };

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  byte: 1,
  bytes: 1,
  k: 1000,
  kb: 1000,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  t: 1000 ** 4,
  tb: 1000 ** 4,
  p: 1000 ** 5,
  pb: 1000 ** 5,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
  pi: 1024 ** 5,
  pib: 1024 ** 5,
};

const SECOND_UNITS: Record<string, number> = {
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  hour: 3600,
  hours: 3600,
  d: 86_400,
  day: 86_400,
  days: 86_400,
};

const NO_LIMIT = new Set(['', 'none', 'unlimited', 'no limit', '∞']);
const QUANTITY = /^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([a-zA-Z]*)$/;

function parseQuantity(
  text: string,
  units: Record<string, number>,
  what: string,
  example: string,
  round: (value: number) => number,
  perSecond = false,
): Parsed {
  let trimmed = text.trim();
  if (NO_LIMIT.has(trimmed.toLowerCase())) return { ok: true, value: null };
  // thousands separators ("1,048,576", "1 000 000", "1_000") and, for rates, a trailing "/s"
  trimmed = trimmed.replace(/(\d)[,_\s\u00a0'](?=\d{3}(?!\d))/g, '$1');
  if (perSecond) trimmed = trimmed.replace(/\s*(\/\s*s|ps)$/i, '');
  const match = QUANTITY.exec(trimmed);
  if (!match) return { ok: false, error: `not a ${what}: write a number and a unit, like ${example}` };
  const unit = match[2].toLowerCase();
  const factor = unit === '' ? 1 : units[unit];
  if (factor === undefined) return { ok: false, error: `unknown unit "${match[2]}": write it like ${example}` };
  const value = round(Number(match[1]) * factor);
  if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER) return { ok: false, error: 'too large' };
  return { ok: true, value };
}

/**
 * Bytes from text: a bare number is bytes; KB/MB/GB/TB/PB are powers of 1000, KiB/MiB/GiB/TiB/PiB (or K/M/G with
 * an i) powers of 1024; case does not matter; a fraction is rounded to the nearest byte. Empty, "none" or
 * "unlimited" mean no limit (null).
 */
export function parseBytes(text: string): Parsed {
  return parseQuantity(text, BYTE_UNITS, 'size', '5 GiB, 500 MB or 1048576', Math.round);
}

/** A rate in bytes per second: as parseBytes, and "/s" (or "ps") may follow the unit: "256 KiB/s". */
export function parseByteRate(text: string): Parsed {
  return parseQuantity(text, BYTE_UNITS, 'rate', '256 KiB/s or 10 MB/s', Math.round, true);
}

/** Seconds from text: a bare number is seconds; s, min, h, d (and their long names). Empty means no limit. */
export function parseSeconds(text: string): Parsed {
  return parseQuantity(text, SECOND_UNITS, 'duration', '10 h, 90 min or 3600 s', (value) => Math.round(value * 1000) / 1000);
}

const BINARY = [
  ['PiB', 1024 ** 5],
  ['TiB', 1024 ** 4],
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
] as const;

/**
 * Bytes as text that parses back to exactly the same number: in the largest binary unit it reaches when that
 * needs at most three decimals, else the plain number. For the value a field starts with; formatBytes is for reading.
 */
export function bytesInput(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '';
  // the unit the size falls in, when it says the number exactly; "5120.001 KiB" would only hide 5242881
  const [unit, size] = BINARY.find(([, size]) => bytes >= size) ?? ['B', 1];
  const scaled = Number((bytes / size).toFixed(3));
  return size > 1 && scaled * size === bytes ? `${scaled} ${unit}` : String(bytes);
}

/** Seconds as text that parses back to the same number ("10 h", "90 min", "45 s"). */
export function secondsInput(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '';
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['min', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size} ${unit}`;
  }
  return `${seconds} s`;
}
