import { fileNameProblem, FILE_NAME_REASONS, normalizeName } from '../common/file-name';
import { QueueName } from '../queues/queue-catalogue';

export enum TaskName {
  Md5 = 'md5',
  Sha256 = 'sha256',
  Fixity = 'fixity',
  Mime = 'mime',
  ImageMetadata = 'image-metadata',
  Thumbnail = 'thumbnail',
  Poster = 'poster',
  VideoMetadata = 'video-metadata',
  VideoPoster = 'video-poster',
  VideoProxy = 'video-proxy',
  Transcode = 'transcode',
  Backup = 'backup',
  Retrieve = 'retrieve',
  FetchUrl = 'fetch-url',
  Webhook = 'webhook',
}

export type ImageFormat = 'jpeg' | 'webp' | 'png';
interface ImageSizeOptions {
  width: number;
  height: number;
  format: ImageFormat;
  quality: number;
  fit: 'inside' | 'cover';
}

/** Named ffmpeg presets for `transcode`: data, never command lines a user wrote. */
export const TRANSCODE_PRESETS = {
  'h264-480p': { container: 'mp4', mimetype: 'video/mp4', video: { codec: 'libx264', height: 480, crf: 23 }, audio: { codec: 'aac', bitrate: '128k' } },
  'h264-720p': { container: 'mp4', mimetype: 'video/mp4', video: { codec: 'libx264', height: 720, crf: 22 }, audio: { codec: 'aac', bitrate: '160k' } },
  'h264-1080p': { container: 'mp4', mimetype: 'video/mp4', video: { codec: 'libx264', height: 1080, crf: 21 }, audio: { codec: 'aac', bitrate: '192k' } },
  'vp9-480p': { container: 'webm', mimetype: 'video/webm', video: { codec: 'libvpx-vp9', height: 480, crf: 33 }, audio: { codec: 'libopus', bitrate: '96k' } },
  'audio-mp3': { container: 'mp3', mimetype: 'audio/mpeg', video: null, audio: { codec: 'libmp3lame', bitrate: '192k' } },
  'audio-aac': { container: 'm4a', mimetype: 'audio/mp4', video: null, audio: { codec: 'aac', bitrate: '160k' } },
} as const;
export type TranscodePreset = keyof typeof TRANSCODE_PRESETS;

/** Tasks that run a tool as a child process (ffmpeg, ffprobe) are stopped, the child killed, after this long. */
interface TimeLimit {
  timeoutSeconds: number;
}

/** What each task accepts and returns, so dispatch and handlers are checked by the compiler. */
export interface TaskTypes {
  [TaskName.Md5]: { options: Record<string, never>; result: { md5: string; matchesRecorded: boolean } };
  [TaskName.Sha256]: { options: Record<string, never>; result: { sha256: string; matchesRecorded: boolean } };
  [TaskName.Fixity]: { options: Record<string, never>; result: { ok: boolean; md5: string; sha256: string; size: number; restored: boolean } };
  [TaskName.Backup]: { options: Record<string, never>; result: { sha256: string; size: number; created: boolean } };
  [TaskName.Retrieve]: { options: Record<string, never>; result: { sha256: string; size: number; storedWasDamaged: boolean } };
  [TaskName.FetchUrl]: {
    /** `folder` and `name` only without input (they say where the file goes); `folder` is then always filled in. */
    options: { url: string; folder?: string; name?: string };
    result: {
      url: string;
      status: number;
      changed: boolean;
      size: number;
      sha256: string;
      etag: string | null;
      lastModified: string | null;
      /** Without input: the file it wrote, or would have (its path), and whether this run created it. */
      mfileId?: string;
      path?: string;
      created?: boolean;
    };
  };
  [TaskName.Webhook]: { options: { webhookId: string }; result: { url: string; status: number; durationMs: number; response: unknown } };
  [TaskName.Mime]: { options: Record<string, never>; result: { mimetype: string; previous: string; changed: boolean } };
  [TaskName.ImageMetadata]: {
    options: Record<string, never>;
    result: {
      width: number;
      height: number;
      format: string;
      orientation: number | null;
      space: string | null;
      hasAlpha: boolean;
      density: number | null;
      exif: Record<string, string | number>;
    };
  };
  [TaskName.Thumbnail]: { options: ImageSizeOptions; result: { width: number; height: number; format: string; size: number } };
  [TaskName.Poster]: { options: ImageSizeOptions; result: { width: number; height: number; format: string; size: number } };
  [TaskName.VideoMetadata]: {
    options: TimeLimit;
    result: {
      duration: number | null;
      format: string | null;
      bitRate: number | null;
      video: { codec: string; width: number; height: number; fps: number | null } | null;
      audio: { codec: string; channels: number; sampleRate: number } | null;
    };
  };
  [TaskName.VideoPoster]: {
    options: { at: number; width: number; height: number } & TimeLimit;
    result: { at: number; width: number; height: number; size: number };
  };
  [TaskName.VideoProxy]: {
    options: { height: number; crf: number } & TimeLimit;
    result: { width: number; height: number; duration: number | null; size: number };
  };
  [TaskName.Transcode]: {
    options: { preset: TranscodePreset } & TimeLimit;
    result: { preset: string; mimetype: string; size: number; duration: number | null };
  };
}

export type OptionSpec = (
  | { type: 'integer' | 'number'; description: string; default: number; minimum: number; maximum: number }
  | { type: 'string'; description: string; default: string; enum: readonly string[] }
  /** A free value checked against a pattern; without a default it is required (but see `withoutInput`). */
  | { type: 'text'; description: string; default?: string; pattern: string; maxLength: number }
) & {
  /**
   * The option applies only to a job without input (a periodic step with `"input": "none"`): refused on a job that
   * has one, optional without one (its default, if it has one, filled in then).
   */
  withoutInput?: true;
};

export interface TaskDefinition {
  name: TaskName;
  description: string;
  defaultQueue: string;
  /** Accepted input mimetypes (globs); a step whose input does not match is skipped. */
  inputs: string[];
  /**
   * How many Mfiles one job of it reads. POST /jobs with more refuses (400) unless asked to make one job per Mfile
   * (`each: true`); a worker fails a job that has more (never runs it on the first alone).
   */
  inputCount: number;
  /**
   * It can also run with no input Mfile, once per tick of a periodic pipeline (a step with `"input": "none"`): what it
   * does then. Absent for the tasks that always read a file.
   */
  withoutInput?: string;
  options: Record<string, OptionSpec>;
  /** The files it produces, as job outputs. */
  outputs: Record<string, string>;
  results: Record<string, string>;
  /**
   * It replaces its input's bytes: whoever asks for it needs `mfile:write` on the inputs as well as `job:create`
   * (checked at POST /jobs and again by the worker before the new bytes are kept).
   */
  changesContent?: true;
}

const imageOptions = (width: number, height: number, what: string): Record<string, OptionSpec> => ({
  width: { type: 'integer', description: `largest width of the ${what} in pixels`, default: width, minimum: 8, maximum: 4096 },
  height: { type: 'integer', description: `largest height of the ${what} in pixels`, default: height, minimum: 8, maximum: 4096 },
  format: { type: 'string', description: 'output format', default: 'jpeg', enum: ['jpeg', 'webp', 'png'] },
  quality: { type: 'integer', description: 'quality for jpeg and webp', default: 80, minimum: 1, maximum: 100 },
  fit: {
    type: 'string',
    description: '`inside` keeps the whole picture within width×height; `cover` fills it and crops',
    default: 'inside',
    enum: ['inside', 'cover'],
  },
});

const NO_OPTIONS: Record<string, OptionSpec> = {};
/** The longest time limit a job may ask for: one day. */
export const MAX_TIMEOUT_SECONDS = 86_400;
const timeLimit = (seconds: number): Record<string, OptionSpec> => ({
  timeoutSeconds: {
    type: 'integer',
    description: 'the job fails, its ffmpeg/ffprobe killed, when it has run this long',
    default: seconds,
    minimum: 1,
    maximum: MAX_TIMEOUT_SECONDS,
  },
});
const IMAGES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif', 'image/heic', 'image/heif', 'image/svg+xml'];
const VIDEOS = ['video/*'];

export const TASKS: Record<TaskName, TaskDefinition> = {
  [TaskName.Md5]: {
    name: TaskName.Md5,
    description: 'Re-reads the stored bytes and computes their MD5; reports whether it matches the recorded one',
    defaultQueue: QueueName.Normal,
    inputs: ['*/*'],
    inputCount: 1,
    options: NO_OPTIONS,
    outputs: {},
    results: { md5: 'hex MD5 of the stored bytes', matchesRecorded: 'whether it equals the MD5 recorded at ingest' },
  },
  [TaskName.Sha256]: {
    name: TaskName.Sha256,
    description: 'Re-reads the stored bytes and computes their SHA-256; reports whether it matches the recorded one',
    defaultQueue: QueueName.Normal,
    inputs: ['*/*'],
    inputCount: 1,
    options: NO_OPTIONS,
    outputs: {},
    results: { sha256: 'hex SHA-256 of the stored bytes', matchesRecorded: 'whether it equals the SHA-256 recorded at ingest' },
  },
  [TaskName.Fixity]: {
    name: TaskName.Fixity,
    description:
      'Re-hashes the stored bytes (MD5 and SHA-256 in one read) and compares them with what was recorded; a mismatch records `corruption` usage and restores the bytes from the backup, or, without one, records `dataloss` and fails',
    defaultQueue: QueueName.Normal,
    inputs: ['*/*'],
    inputCount: 1,
    options: NO_OPTIONS,
    outputs: {},
    results: {
      ok: 'size, MD5 and SHA-256 all match',
      md5: 'hex MD5 now',
      sha256: 'hex SHA-256 now',
      size: 'bytes now',
      restored: 'the bytes were damaged and restored from the backup',
    },
  },
  [TaskName.Backup]: {
    name: TaskName.Backup,
    description:
      'Copies the content to the backup store (BACKUP_DIR; with STORAGE=s3 the backup bucket) and verifies the copy by hashing it; identical content is kept once',
    defaultQueue: QueueName.Normal,
    inputs: ['*/*'],
    inputCount: 1,
    options: NO_OPTIONS,
    outputs: {},
    results: { sha256: 'the content backed up', size: 'bytes', created: 'false when a verified copy was there already' },
  },
  [TaskName.Retrieve]: {
    name: TaskName.Retrieve,
    description: 'Restores the content from the backup store (verified before use), replacing the stored bytes',
    defaultQueue: QueueName.Normal,
    changesContent: true,
    inputs: ['*/*'],
    inputCount: 1,
    options: NO_OPTIONS,
    outputs: {},
    results: { sha256: 'the content restored', size: 'bytes', storedWasDamaged: 'the stored bytes were missing or different before' },
  },
  [TaskName.FetchUrl]: {
    name: TaskName.FetchUrl,
    changesContent: true,
    description:
      'Pulls the content of the Mfile from a URL (http or https), conditionally (ETag, Last-Modified): new bytes replace the content like an upload, unchanged ones cost nothing. Run it periodically to keep a file in step with its source',
    defaultQueue: QueueName.Normal,
    inputs: ['*/*'],
    inputCount: 1,
    withoutInput:
      'Fetches the URL into the file `name` of the folder `folder` (the service root unless given): the first run creates it (its ingest pipeline runs), later runs replace its content only when the source changed (its update pipeline runs). A file of that name that was not fetched from this URL, or a folder of that name, is left alone and the job fails; so does a folder that does not exist',
    options: {
      url: { type: 'text', description: 'where to fetch from (http or https)', pattern: '^https?://\\S+$', maxLength: 2000 },
      folder: {
        type: 'text',
        description: 'without input: the folder to fetch into, as a path from the service root ("/", "/feeds/daily"); it must exist',
        default: '/',
        pattern: '^/',
        maxLength: 4000,
        withoutInput: true,
      },
      name: {
        type: 'text',
        description: "without input: the file's name in that folder (default: the last segment of the URL's path)",
        pattern: '^[^/\\\\]+$',
        maxLength: 255,
        withoutInput: true,
      },
    },
    outputs: {},
    results: {
      url: 'fetched',
      status: 'HTTP status (304: unchanged)',
      changed: 'the content was replaced (or, without input, the file created)',
      size: 'bytes',
      sha256: 'of the content now',
      etag: 'the source ETag',
      lastModified: 'the source Last-Modified',
      mfileId: 'without input: the file written',
      path: 'without input: its path from the service root',
      created: 'without input: this run created the file',
    },
  },
  [TaskName.Webhook]: {
    name: TaskName.Webhook,
    description:
      'Calls a web service registered as one of the service\'s webhooks with the Mfile\'s description (signed: MServe-Signature t=<unix>,v1=<HMAC-SHA256 of "t.body">), and records its answer',
    defaultQueue: QueueName.Normal,
    inputs: ['*/*'],
    inputCount: 1,
    options: {
      webhookId: { type: 'text', description: 'id of a webhook of the service (POST /services/:id/webhooks)', pattern: '^[0-9a-f-]{36}$', maxLength: 36 },
    },
    outputs: {},
    results: { url: 'called', status: 'HTTP status', durationMs: 'time to answer', response: 'its JSON body, or the first 4 KB of text' },
  },
  [TaskName.Mime]: {
    name: TaskName.Mime,
    description: 'Detects the media type: magic numbers (file-type), then the extension, then a text sniff; updates the Mfile',
    defaultQueue: QueueName.Normal,
    inputs: ['*/*'],
    inputCount: 1,
    options: NO_OPTIONS,
    outputs: {},
    results: { mimetype: 'the detected type', previous: 'the type before', changed: 'whether the Mfile was updated' },
  },
  [TaskName.ImageMetadata]: {
    name: TaskName.ImageMetadata,
    description: 'Reads dimensions (as displayed, EXIF orientation applied), format, colour space and EXIF; stored in the Mfile metadata as `image`',
    defaultQueue: QueueName.Normal,
    inputs: IMAGES,
    inputCount: 1,
    options: NO_OPTIONS,
    outputs: {},
    results: {
      width: 'displayed width',
      height: 'displayed height',
      format: 'decoder format',
      orientation: 'EXIF orientation 1-8',
      space: 'colour space',
      hasAlpha: 'alpha channel',
      density: 'DPI',
      exif: 'selected EXIF fields',
    },
  },
  [TaskName.Thumbnail]: {
    name: TaskName.Thumbnail,
    description: 'A small picture of an image (sharp), EXIF orientation applied, never larger than the original',
    defaultQueue: QueueName.Normal,
    inputs: IMAGES,
    inputCount: 1,
    options: imageOptions(210, 128, 'thumbnail'),
    outputs: { thumbnail: 'the picture (image/jpeg, image/webp or image/png)' },
    results: { width: 'pixels', height: 'pixels', format: 'jpeg, webp or png', size: 'bytes' },
  },
  [TaskName.Poster]: {
    name: TaskName.Poster,
    description: 'A medium-size picture of an image for previews (sharp), EXIF orientation applied',
    defaultQueue: QueueName.Normal,
    inputs: IMAGES,
    inputCount: 1,
    options: imageOptions(420, 256, 'poster'),
    outputs: { poster: 'the picture (image/jpeg, image/webp or image/png)' },
    results: { width: 'pixels', height: 'pixels', format: 'jpeg, webp or png', size: 'bytes' },
  },
  [TaskName.VideoMetadata]: {
    name: TaskName.VideoMetadata,
    description: 'Duration, container, bit rate and the first video and audio streams (ffprobe); stored in the Mfile metadata as `video`',
    defaultQueue: QueueName.Normal,
    inputs: [...VIDEOS, 'audio/*'],
    inputCount: 1,
    options: timeLimit(300),
    outputs: {},
    results: {
      duration: 'seconds',
      format: 'container',
      bitRate: 'bits per second',
      video: 'codec, width, height, fps',
      audio: 'codec, channels, sample rate',
    },
  },
  [TaskName.VideoPoster]: {
    name: TaskName.VideoPoster,
    description: 'One frame of a video as a JPEG (ffmpeg), taken at `at` percent of its duration',
    defaultQueue: QueueName.Normal,
    inputs: VIDEOS,
    inputCount: 1,
    options: {
      at: { type: 'number', description: 'where to take the frame, in percent of the duration', default: 10, minimum: 0, maximum: 100 },
      width: { type: 'integer', description: 'largest width in pixels', default: 420, minimum: 16, maximum: 4096 },
      height: { type: 'integer', description: 'largest height in pixels', default: 256, minimum: 16, maximum: 4096 },
      ...timeLimit(300),
    },
    outputs: { poster: 'image/jpeg' },
    results: { at: 'seconds into the video', width: 'pixels', height: 'pixels', size: 'bytes' },
  },
  [TaskName.VideoProxy]: {
    name: TaskName.VideoProxy,
    description: 'A small H.264/AAC MP4 for streaming and editing (ffmpeg, `+faststart`), progress reported',
    defaultQueue: QueueName.Normal,
    inputs: VIDEOS,
    inputCount: 1,
    options: {
      height: { type: 'integer', description: 'frame height (never upscaled)', default: 480, minimum: 120, maximum: 2160 },
      crf: { type: 'integer', description: 'x264 constant rate factor (lower is better and larger)', default: 26, minimum: 14, maximum: 40 },
      ...timeLimit(21_600),
    },
    outputs: { proxy: 'video/mp4' },
    results: { width: 'pixels', height: 'pixels', duration: 'seconds', size: 'bytes' },
  },
  [TaskName.Transcode]: {
    name: TaskName.Transcode,
    description: `Converts a video or audio file with a named preset (${Object.keys(TRANSCODE_PRESETS).join(', ')}), progress reported`,
    defaultQueue: QueueName.Normal,
    inputs: [...VIDEOS, 'audio/*'],
    inputCount: 1,
    options: {
      preset: { type: 'string', description: 'the preset', default: 'h264-720p', enum: Object.keys(TRANSCODE_PRESETS) },
      ...timeLimit(21_600),
    },
    outputs: { transcode: 'the converted file' },
    results: { preset: 'the preset used', mimetype: 'of the output', size: 'bytes', duration: 'seconds' },
  },
};

/**
 * The time limit of a job in seconds: its `timeoutSeconds` option, else the task's default (a job queued before the
 * option existed); undefined for tasks without one (they run in process and end by themselves).
 */
export function timeLimitOf(task: TaskName, options: unknown): number | undefined {
  const spec = TASKS[task].options.timeoutSeconds;
  if (!spec || spec.type !== 'integer') return undefined;
  const given = (options as { timeoutSeconds?: unknown } | null)?.timeoutSeconds;
  return typeof given === 'number' && Number.isInteger(given) && given >= spec.minimum && given <= spec.maximum ? given : spec.default;
}

export function isTaskName(name: string): name is TaskName {
  return Object.prototype.hasOwnProperty.call(TASKS, name);
}

/**
 * Checks options against a task's schema and fills in the defaults. Returns the complete options, or the list of
 * what is wrong (unknown option, wrong type, out of range, not one of the allowed values). `withoutInput`: the job
 * (or step) runs with no input Mfile; its task must allow that (`TaskDefinition.withoutInput`), its `withoutInput`
 * options are taken and checked (`withoutInputProblems`); otherwise they are refused.
 */
export function resolveTaskOptions(
  task: TaskDefinition,
  given: Record<string, unknown> | undefined,
  path = 'options',
  mode: { withoutInput?: boolean } = {},
): { options: Record<string, unknown>; errors: string[] } {
  const errors: string[] = [];
  const options: Record<string, unknown> = {};
  for (const name of Object.keys(given ?? {})) {
    if (!Object.hasOwn(task.options, name))
      errors.push(
        `${path}.${name} is not an option of ${task.name}${Object.keys(task.options).length ? ` (it has ${Object.keys(task.options).join(', ')})` : ' (it has none)'}`,
      );
  }
  for (const [name, spec] of Object.entries(task.options)) {
    const value = given?.[name];
    if (spec.withoutInput && !mode.withoutInput) {
      if (value !== undefined) errors.push(`${path}.${name} applies only to a step without input ("input": "none", periodic pipelines)`);
      continue;
    }
    if (value === undefined) {
      if (spec.default !== undefined) options[name] = spec.default;
      else if (!spec.withoutInput) errors.push(`${path}.${name} is required`);
      continue;
    }
    if (spec.type === 'text') {
      if (typeof value !== 'string' || value.length > spec.maxLength || !new RegExp(spec.pattern).test(value))
        errors.push(`${path}.${name} must match ${spec.pattern} (at most ${spec.maxLength} characters)`);
      else options[name] = value;
    } else if (spec.type === 'string') {
      if (typeof value !== 'string' || !spec.enum.includes(value)) errors.push(`${path}.${name} must be one of ${spec.enum.join(', ')}`);
      else options[name] = value;
    } else {
      const ok = typeof value === 'number' && Number.isFinite(value) && (spec.type === 'number' || Number.isInteger(value));
      if (!ok) errors.push(`${path}.${name} must be ${spec.type === 'integer' ? 'an integer' : 'a number'}`);
      else if (value < spec.minimum || value > spec.maximum) errors.push(`${path}.${name} must be between ${spec.minimum} and ${spec.maximum}`);
      else options[name] = value;
    }
  }
  if (mode.withoutInput && task.withoutInput && errors.length === 0) errors.push(...withoutInputProblems(task.name, options, path));
  return { options, errors };
}

/** A folder path from a service's root ("/", "/feeds/daily") as its names, or what is wrong with it. */
export function folderPathNames(path: string): { names: string[] } | { problem: string } {
  if (!path.startsWith('/')) return { problem: 'must start with / (the service root)' };
  const names = path === '/' ? [] : path.slice(1).replace(/\/$/, '').split('/');
  for (const name of names) {
    const problem = fileNameProblem(normalizeName(name));
    if (problem === 'empty') return { problem: 'must not contain an empty name (//)' };
    if (problem) return { problem: `has a name that ${FILE_NAME_REASONS[problem]}: "${name}"` };
  }
  return { names: names.map(normalizeName) };
}

/** The last name of a URL's path, decoded ('' when it has none or it does not decode). */
function lastPathName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    return '';
  }
}

/**
 * The task-specific rules of a job without input, on options already checked against their patterns: for
 * `fetch-url`, a folder path of valid names, and a file name (given, else the last segment of the URL's path,
 * written into `options.name` so the step and its jobs show it).
 */
function withoutInputProblems(task: TaskName, options: Record<string, unknown>, path: string): string[] {
  if (task !== TaskName.FetchUrl) return [];
  const errors: string[] = [];
  const folder = folderPathNames(String(options.folder));
  if ('problem' in folder) errors.push(`${path}.folder "${String(options.folder)}" ${folder.problem}`);
  else options.folder = folder.names.length ? `/${folder.names.join('/')}` : '/';
  if (options.name === undefined) {
    const last = lastPathName(String(options.url));
    if (last === '' || fileNameProblem(normalizeName(last))) {
      errors.push(`${path}.name is required: the URL's path ends in no usable file name`);
      return errors;
    }
    options.name = normalizeName(last);
  } else {
    const name = normalizeName(String(options.name));
    const problem = fileNameProblem(name);
    if (problem) errors.push(`${path}.name ${FILE_NAME_REASONS[problem]}`);
    else options.name = name;
  }
  return errors;
}

/** `image/*`-style glob match of a mimetype. */
export function mimetypeMatches(mimetype: string, globs: readonly string[]): boolean {
  const type = mimetype.toLowerCase().split(';')[0].trim();
  return globs.some((glob) => glob === '*/*' || glob === type || (glob.endsWith('/*') && type.startsWith(glob.slice(0, -1))));
}
