import type { Mfile, Rendition } from './types';

/** How the Mfile page previews a file, from its mimetype. Pure. */

export type PreviewKind = 'image' | 'video' | 'audio' | 'text' | 'none';

/** Pictures every current browser draws in an <img> (others are shown through their poster or thumbnail). */
const BROWSER_IMAGES = [
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/svg+xml',
  'image/bmp',
  'image/x-icon',
  'image/vnd.microsoft.icon',
];
/** Originals a <video> can play when no proxy was made. */
const BROWSER_VIDEOS = ['video/mp4', 'video/webm', 'video/ogg'];
const TEXT_APPLICATIONS = [
  'application/json',
  'application/xml',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/x-sh',
  'application/x-yaml',
  'application/yaml',
  'application/toml',
  'application/sql',
  'application/x-ndjson',
  'application/csv',
  'application/x-subrip',
  'application/x-httpd-php',
];

/** The bytes a text preview reads: one Range request, whatever the file's size. */
export const TEXT_PREVIEW_BYTES = 64 * 1024;
/** Above this an original picture is not loaded for a preview; its poster rendition is. */
export const LARGEST_ORIGINAL_PREVIEW = 25 * 1024 * 1024;

const bare = (mimetype: string) => mimetype.toLowerCase().split(';')[0].trim();

export function previewKind(mimetype: string): PreviewKind {
  const type = bare(mimetype);
  if (type.startsWith('image/')) return 'image';
  if (type.startsWith('video/')) return 'video';
  if (type.startsWith('audio/')) return 'audio';
  if (type.startsWith('text/') || TEXT_APPLICATIONS.includes(type) || type.endsWith('+json') || type.endsWith('+xml')) return 'text';
  return 'none';
}

export interface ImageSource {
  /** An API path: `/mfiles/:id/content` or `/joboutputs/:id/content`. */
  path: string;
  /** Cache breaker: the bytes' identity, so replaced content is not served from the browser's cache. */
  version: string;
  width?: number;
  height?: number;
  what: 'original' | 'poster' | 'thumbnail';
}

const fromRendition = (rendition: Rendition, what: ImageSource['what']): ImageSource => ({
  path: `/joboutputs/${rendition.jobOutputId}/content`,
  version: rendition.jobOutputId,
  width: rendition.width,
  height: rendition.height,
  what,
});

/**
 * The picture to show for an image: the file itself when a browser can draw it and it is not huge, else the
 * poster (medium) or thumbnail rendition the image tasks made, else nothing yet. `renditions` false: the key may not
 * read job outputs (joboutput:read), so only the file itself can be shown.
 */
export function imageSource(mfile: Mfile, renditionsReadable = true): ImageSource | null {
  const renditions = renditionsReadable ? (mfile.metadata.renditions ?? {}) : {};
  if (BROWSER_IMAGES.includes(bare(mfile.mimetype)) && mfile.size <= LARGEST_ORIGINAL_PREVIEW) {
    const image = mfile.metadata.image as { width?: number; height?: number } | undefined;
    return { path: `/mfiles/${mfile.id}/content`, version: mfile.sha256.slice(0, 16), width: image?.width, height: image?.height, what: 'original' };
  }
  if (renditions.poster) return fromRendition(renditions.poster, 'poster');
  if (renditions.thumbnail) return fromRendition(renditions.thumbnail, 'thumbnail');
  return null;
}

export interface VideoSources {
  src: ImageSource | null;
  poster: ImageSource | null;
  /** Which bytes play: the proxy the video-proxy task made, or the original when a browser plays it as it is. */
  playing: 'proxy' | 'original' | null;
}

/** The player's source and poster: the video-proxy and video-poster outputs (linked from the file's metadata). */
export function videoSources(mfile: Mfile, proxyPending: boolean, renditionsReadable = true): VideoSources {
  const renditions = renditionsReadable ? (mfile.metadata.renditions ?? {}) : {};
  const poster = renditions.poster ? fromRendition(renditions.poster, 'poster') : null;
  if (renditions.proxy) return { src: fromRendition(renditions.proxy, 'original'), poster, playing: 'proxy' };
  if (!proxyPending && BROWSER_VIDEOS.includes(bare(mfile.mimetype))) {
    return { src: { path: `/mfiles/${mfile.id}/content`, version: mfile.sha256.slice(0, 16), what: 'original' }, poster, playing: 'original' };
  }
  return { src: null, poster, playing: null };
}

/** Seconds as 1:05 or 1:02:03. */
export function formatClock(seconds: unknown): string | null {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return null;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** The few facts people look for in the metadata tasks recorded (image-metadata, video-metadata), in words. */
export function mediaFacts(metadata: Mfile['metadata']): Array<{ label: string; value: string }> {
  const facts: Array<{ label: string; value: string }> = [];
  const image = metadata.image as { width?: number; height?: number; format?: string; space?: string | null } | undefined;
  if (image?.width && image.height) facts.push({ label: 'Dimensions', value: `${image.width} × ${image.height} px` });
  if (image?.space) facts.push({ label: 'Colour space', value: image.space });
  const video = metadata.video as
    | {
        duration?: number | null;
        format?: string | null;
        bitRate?: number | null;
        video?: { codec: string; width: number; height: number; fps: number | null } | null;
        audio?: { codec: string; channels: number; sampleRate: number } | null;
      }
    | undefined;
  if (video) {
    const duration = formatClock(video.duration);
    if (duration) facts.push({ label: 'Duration', value: duration });
    if (video.video)
      facts.push({
        label: 'Video',
        value: `${video.video.codec}, ${video.video.width} × ${video.video.height}${video.video.fps ? `, ${video.video.fps} fps` : ''}`,
      });
    if (video.audio) facts.push({ label: 'Audio', value: `${video.audio.codec}, ${video.audio.channels} ch, ${video.audio.sampleRate} Hz` });
    if (video.bitRate) facts.push({ label: 'Bit rate', value: `${Math.round(video.bitRate / 1000)} kbit/s` });
  }
  return facts;
}
