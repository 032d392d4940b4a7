import { FILE_NAME_MAX_BYTES, fileNameProblem, type FileNameProblem } from '../../../../common/file-name';
import type { Mfile, Rendition } from './types';

/** What an Mfile looks like in a list or grid, from its renditions (thumbnail first, else a poster). */
export function previewOf(mfile: Pick<Mfile, 'metadata'>): Rendition | null {
  const renditions = mfile.metadata?.renditions;
  if (!renditions || typeof renditions !== 'object') return null;
  const candidate = renditions.thumbnail ?? renditions.poster;
  return candidate && typeof candidate.jobOutputId === 'string' ? candidate : null;
}

/** Tasks whose output is the picture a file is shown with. */
export const PREVIEW_TASKS = ['thumbnail', 'video-poster'] as const;

export const FINAL_STATES = ['succeeded', 'failed', 'cancelled', 'skipped'] as const;
export function isFinal(state: string): boolean {
  return (FINAL_STATES as readonly string[]).includes(state);
}

export type FileKind = 'image' | 'video' | 'audio' | 'text' | 'pdf' | 'archive' | 'other';

export function fileKind(mimetype: string): FileKind {
  const [type, subtype = ''] = mimetype.toLowerCase().split('/');
  if (type === 'image' || type === 'video' || type === 'audio' || type === 'text') return type;
  if (subtype === 'pdf') return 'pdf';
  if (/zip|tar|gzip|x-7z|x-rar|x-bzip|x-xz|zstd/.test(subtype)) return 'archive';
  if (/json|xml|javascript|yaml|csv/.test(subtype)) return 'text';
  return 'other';
}

/** A short label shown where there is no picture. */
export const KIND_LABEL: Record<FileKind, string> = { image: 'IMG', video: 'VID', audio: 'AUD', text: 'TXT', pdf: 'PDF', archive: 'ZIP', other: 'FILE' };

/** The API's mimetype filter: exact (image/png) or a type wildcard (image/*); the same rule as ListMfilesQuery. */
const MIMETYPE_FILTER = /^[a-z0-9!#$&^_.+-]+\/([a-z0-9!#$&^_.+-]+|\*)$/i;

/**
 * What a person typed as a type filter, as the API takes it: "image" means image/*, blanks are dropped. Null when
 * it cannot be one (the form says so instead of sending a request the API refuses).
 */
export function normaliseMimetypeFilter(input: string): string | null {
  const text = input.trim().toLowerCase();
  if (!text) return '';
  const value = text.includes('/') ? text : `${text}/*`;
  return MIMETYPE_FILTER.test(value) ? value : null;
}

/** The same filter the API applies (name substring, case-insensitive; mimetype exact or wildcard). */
export function matchesFilters(mfile: Pick<Mfile, 'name' | 'mimetype'>, filters: { name?: string; mimetype?: string }): boolean {
  if (filters.name && !mfile.name.toLowerCase().includes(filters.name.toLowerCase())) return false;
  if (filters.mimetype) {
    const wanted = filters.mimetype.toLowerCase();
    const actual = mfile.mimetype.toLowerCase();
    if (wanted.endsWith('/*') ? !actual.startsWith(wanted.slice(0, -1)) : actual !== wanted) return false;
  }
  return true;
}

/** The console's wording of the API's file-name rule (src/common/file-name.ts). */
const NAME_PROBLEMS: Record<FileNameProblem, string> = {
  empty: 'Enter a name.',
  'too-long': `The name is longer than ${FILE_NAME_MAX_BYTES} bytes.`,
  dot: 'The name cannot be . or ..',
  separator: 'The name cannot contain / or \\.',
  control: 'The name cannot contain control characters.',
  format: 'The name cannot contain invisible format characters (zero-width or text-direction controls).',
  padded: 'The name cannot start or end with a space.',
};

/** Why a folder or file name cannot be used, or null: the API's rule (src/common/file-name.ts), checked before sending. */
export function nameProblem(name: string): string | null {
  const problem = fileNameProblem(name);
  return problem === null ? null : NAME_PROBLEMS[problem];
}
