/** Inclusive byte ranges, kept sorted and merged. */
export type ByteRange = [number, number];

export function mergeRange(ranges: ByteRange[], added: ByteRange): ByteRange[] {
  const all = [...ranges, added].sort((a, b) => a[0] - b[0]);
  const merged: ByteRange[] = [];
  for (const [start, end] of all) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/** 'inside' when the range was fully received already, 'overlap' when it partly was, 'new' otherwise. */
export function classifyRange(ranges: ByteRange[], [start, end]: ByteRange): 'inside' | 'overlap' | 'new' {
  for (const [a, b] of ranges) {
    if (start >= a && end <= b) return 'inside';
    if (start <= b && end >= a) return 'overlap';
  }
  return 'new';
}

/** What is still missing of [0, length). */
export function missingRanges(ranges: ByteRange[], length: number): ByteRange[] {
  const missing: ByteRange[] = [];
  let next = 0;
  for (const [a, b] of ranges) {
    if (a > next) missing.push([next, a - 1]);
    next = Math.max(next, b + 1);
  }
  if (next < length) missing.push([next, length - 1]);
  return missing;
}

/** `Content-Range: bytes a-b/total` (total required: an upload must know its size). */
export function parseContentRange(value: string | undefined): { start: number; end: number; total: number } | undefined {
  if (!value) return undefined;
  const match = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16})$/.exec(value.trim());
  if (!match) return undefined;
  const [start, end, total] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return { start, end, total };
}
