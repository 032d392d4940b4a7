import { hostname } from 'node:os';

/** Lines of ffmpeg/ffprobe output that say nothing about why a file failed: progress, the banner, build details. */
const NOISE =
  /^(frame=|size=|Metadata:|Stream mapping|Press \[q\]|ffprobe version|ffmpeg version|built with|configuration:|lib(avutil|avcodec|avformat|avdevice|avfilter|swscale|swresample|postproc)\s)/;

/** A path's continuation after a known prefix (`<root>/blobs/ab/cd/…`), up to a quote, space or separator. */
const REST_OF_PATH = String.raw`(?:/[^\s'"\`,;:()\[\]<>]*)*`;
/** An absolute path or file URL nobody labelled: not after a word character, a dot, `~`, `:` or `/` (so not `image/png` nor `https://x/y`). */
const ANY_PATH = /file:(?:\/\/)?\/[^\s'"`,;()[\]<>]*|(?<![\w.~:/-])\/[^\s'"`,;:()[\]<>/]+(?:\/[^\s'"`,;:()[\]<>/]*)*/g;
/** The content store's temp names carry the host name and the pid (`<host>~<pid>~<random>`). */
const TEMP_NAME = /[\w.-]*~\d+~[\w.~-]*/g;
/** `pid 1234`, `pid=1234`, `pid: 1234`. */
const PID = /\bpid\s*[=:]?\s*\d+/gi;

/** http(s) and other URLs (not file:) are the customer's own words (fetch-url, webhooks): their paths are not ours. */
const URL_TOKEN = /\b(?!file:)[a-z][\w+.-]*:\/\/[^\s'"<>]*/gi;

function outsideUrls(text: string, scrub: (part: string) => string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(URL_TOKEN)) {
    out += scrub(text.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  return out + scrub(text.slice(last));
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const HOST = hostname().length >= 2 ? new RegExp(`(?<![\\w-])${escape(hostname())}(?![\\w-])`, 'gi') : undefined;

/**
 * Any text on its way into a job's error, made free of the server's details: the paths given become what the customer
 * knows them as (the stored file → "the file"; a prefix takes the rest of the path with it: `<root>/blobs/ab/cd/x` →
 * "the storage"), every other absolute path or file URL becomes "a server path", temp names "a temporary file", and
 * the host name and pids go. The one place every job error passes (the worker's runner and outcome recorder).
 */
export function serverFree(text: string, paths: ReadonlyArray<readonly [path: string, label: string]> = []): string {
  let said = text;
  for (const [path, label] of [...paths].filter(([path]) => path.length > 1).sort((a, b) => b[0].length - a[0].length))
    said = said.replace(new RegExp(`${escape(path.replace(/\/+$/, ''))}${REST_OF_PATH}`, 'g'), label);
  said = outsideUrls(said, (part) => part.replace(ANY_PATH, 'a server path'))
    .replace(TEMP_NAME, 'a temporary file')
    .replace(PID, 'pid');
  return HOST ? said.replace(HOST, 'the server') : said;
}

/**
 * What a media tool (ffmpeg, ffprobe, libvips through sharp) said, made fit for a job's error: server details go
 * (serverFree), demuxer memory addresses and the tools' banners go, repeated lines are said once, and the last three
 * that remain are kept.
 */
export function toolMessage(text: string, paths: ReadonlyArray<readonly [path: string, label: string]>): string {
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    const line = serverFree(raw.replace(/^\s*\[[^\]]*? @ 0x[0-9a-f]+\]\s*/, '').trim(), paths);
    if (line && !NOISE.test(line) && !lines.includes(line)) lines.push(line);
  }
  return lines.slice(-3).join(' / ').slice(0, 500);
}
