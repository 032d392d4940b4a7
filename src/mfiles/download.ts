import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable, Transform, TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobStore } from '../storage/blob-store';
import { CONTENT_SECURITY_POLICY, contentDisposition, etagMatches, isActiveContent, strongEtag } from './content-headers';

export interface Downloadable {
  blobKey: string;
  size: number;
  sha256: string;
  mimetype: string;
  name: string;
  contentUpdatedAt: Date;
}

/** What a download answers: the method (GET or HEAD) and the headers that condition or narrow it. */
export interface ContentRequest {
  method: string;
  headers: IncomingHttpHeaders;
}

/** A problem document (RFC 9457) a download ends with: a failed precondition, an unsatisfiable range. */
export interface ContentProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

/**
 * Where a download's answer goes. The download path says what to send (status, headers, a body); the controller
 * that owns the HTTP response writes it (see `expressSink`), so no service holds a framework's response.
 */
export interface ContentSink {
  setHeader(name: string, value: string): void;
  /** Ends the answer with this status and no body (304, HEAD, an empty file). */
  end(status: number): void;
  /** Ends the answer with a problem document as application/problem+json. */
  problem(problem: ContentProblem): void;
  /** Starts the answer with this status: where the body's bytes go, written with back-pressure. */
  body(status: number): Writable;
}

export interface SendOptions {
  /** Download bandwidth cap in bytes per second (the service's `accessSpeed`); absent or null: unlimited. */
  bytesPerSecond?: number | null;
}

export interface ByteRange {
  start: number;
  end: number;
}

/** Anti-abuse limits for multi-range requests (RFC 9110 §14.2 lets a server ignore such Range fields). */
export const RANGE_LIMITS = {
  /** More range-specs than this in one Range header: the header is ignored (200). */
  maxRanges: 50,
  /** When the requested ranges add up to more than this many times the size, the header is ignored (200). */
  maxTotalFactor: 2,
};

/** Bucket size of the download throttle: what a throttled download may send at once. */
export const THROTTLE_BURST_BYTES = 64 * 1024;

/**
 * Resolves a `Range` header against the size (RFC 9110 §14.1.2, §14.2).
 *
 * - `undefined`: no Range, a malformed one (unknown unit, bad syntax, a `last < first` spec), or one the
 *   anti-abuse limits reject (more than {@link RANGE_LIMITS.maxRanges} specs, or the ranges together ask for
 *   more than {@link RANGE_LIMITS.maxTotalFactor}× the size): the caller sends the whole representation.
 * - `'unsatisfiable'`: well-formed, but no range overlaps the content (416).
 * - otherwise the satisfiable ranges, clamped to the size, with those that overlap or touch coalesced, in the
 *   order their first range-spec appeared in the header.
 */
export function parseRanges(header: string | undefined, size: number): ByteRange[] | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!match) return undefined;
  // HTTP lists allow empty elements (RFC 9110 §5.6.1.2): `bytes=0-1,,5-6` is two ranges.
  const specs = match[1]
    .split(',')
    .map((spec) => spec.trim())
    .filter((spec) => spec !== '');
  if (specs.length === 0 || specs.length > RANGE_LIMITS.maxRanges) return undefined;
  const satisfiable: ByteRange[] = [];
  for (const spec of specs) {
    const parts = /^(\d*)-(\d*)$/.exec(spec);
    if (!parts || (parts[1] === '' && parts[2] === '')) return undefined;
    if (parts[1] === '') {
      // suffix-range: the last N bytes (all of them when the content is shorter)
      const suffix = Number(parts[2]);
      if (suffix > 0 && size > 0) satisfiable.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(parts[1]);
    const last = parts[2] === '' ? Infinity : Number(parts[2]);
    if (last < start) return undefined; // an invalid byte-range-spec invalidates the whole header
    if (start < size) satisfiable.push({ start, end: Math.min(last, size - 1) });
  }
  if (satisfiable.length === 0) return 'unsatisfiable';
  const total = satisfiable.reduce((sum, range) => sum + (range.end - range.start + 1), 0);
  if (total > RANGE_LIMITS.maxTotalFactor * size) return undefined;
  return coalesceRanges(satisfiable);
}

/**
 * Merges ranges that overlap or are adjacent (RFC 9110 §14.6 allows it). The merged ranges keep the order in
 * which their earliest member appeared, so the parts come in the order the client asked for them.
 */
export function coalesceRanges(ranges: ByteRange[]): ByteRange[] {
  const sorted = ranges.map((range, order) => ({ ...range, order })).sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: Array<ByteRange & { order: number }> = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.start <= last.end + 1) {
      last.end = Math.max(last.end, range.end);
      last.order = Math.min(last.order, range.order);
    } else {
      merged.push({ ...range });
    }
  }
  return merged.sort((a, b) => a.order - b.order).map(({ start, end }) => ({ start, end }));
}

/** RFC 9530 `Repr-Digest` value for a hex sha256: `sha-256=:<base64>:`. */
export function reprDigest(sha256Hex: string): string | undefined {
  if (!/^[0-9a-fA-F]{64}$/.test(sha256Hex)) return undefined;
  return `sha-256=:${Buffer.from(sha256Hex, 'hex').toString('base64')}:`;
}

/**
 * Caps the throughput of a stream with a token bucket: up to `burst` bytes at once, then `bytesPerSecond` on
 * average. Waits with timers (never blocks the event loop) and holds at most the chunk it is passing on, so
 * memory stays constant whatever the file size. Back-pressure works as for any Transform.
 */
export class ThrottleTransform extends Transform {
  private tokens: number;
  private refilledAt = performance.now();
  private timer: NodeJS.Timeout | undefined;
  /** How much to wait for before passing on a slice: ~50 ms worth, at least 1 KiB, at most the burst. */
  private readonly slice: number;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly burst = THROTTLE_BURST_BYTES,
  ) {
    super();
    if (!(bytesPerSecond > 0)) throw new Error(`bytesPerSecond must be positive, not ${bytesPerSecond}`);
    this.tokens = burst;
    this.slice = Math.max(1, Math.min(burst, Math.max(1024, Math.floor(bytesPerSecond / 20))));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.passOn(chunk, 0, callback);
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.bytesPerSecond);
    this.refilledAt = now;
  }

  private passOn(chunk: Buffer, offset: number, callback: TransformCallback): void {
    this.timer = undefined;
    if (this.destroyed) return;
    this.refill();
    while (offset < chunk.length) {
      const want = Math.min(chunk.length - offset, this.slice);
      if (this.tokens < want) {
        const waitMs = Math.ceil(((want - this.tokens) / this.bytesPerSecond) * 1000);
        this.timer = setTimeout(() => this.passOn(chunk, offset, callback), waitMs);
        return;
      }
      this.push(chunk.subarray(offset, offset + want));
      this.tokens -= want;
      offset += want;
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    callback(error);
  }
}

function multipartBody(store: BlobStore, file: Downloadable, ranges: ByteRange[]): { contentType: string; length: number; body: Readable } {
  const boundary = `mserve-${randomBytes(16).toString('hex')}`;
  const heads = ranges.map((range, index) =>
    Buffer.from(
      `${index === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${file.mimetype}\r\nContent-Range: bytes ${range.start}-${range.end}/${file.size}\r\n\r\n`,
      'latin1',
    ),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  const length = ranges.reduce((sum, range, index) => sum + heads[index].length + (range.end - range.start + 1), tail.length);
  async function* parts(): AsyncGenerator<Buffer> {
    for (const [index, range] of ranges.entries()) {
      yield heads[index];
      // one file stream per part, read only as fast as the response drains (the generator is pulled)
      for await (const chunk of store.read(file.blobKey, range)) yield chunk as Buffer;
    }
    yield tail;
  }
  return { contentType: `multipart/byteranges; boundary=${boundary}`, length, body: Readable.from(parts(), { objectMode: false }) };
}

/** Validators and representation headers every answer about the content carries, then the preconditions (RFC 9110 §13). */
function answerPreconditions(request: ContentRequest, response: ContentSink, file: Downloadable): ByteRange[] | 'answered' | undefined {
  const etag = strongEtag(file.sha256);
  const lastModified = new Date(Math.floor(file.contentUpdatedAt.getTime() / 1000) * 1000);
  response.setHeader('ETag', etag);
  response.setHeader('Last-Modified', lastModified.toUTCString());
  response.setHeader('Accept-Ranges', 'bytes');
  response.setHeader('Content-Type', file.mimetype);
  response.setHeader('Content-Disposition', contentDisposition(file.name, isActiveContent(file.mimetype) ? 'attachment' : 'inline'));
  response.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  response.setHeader('Cache-Control', 'private, no-cache');
  response.setHeader('X-Content-Type-Options', 'nosniff');
  const ifNoneMatch = request.headers['if-none-match'];
  const ifModifiedSince = request.headers['if-modified-since'];
  if (etagMatches(ifNoneMatch, etag) || (!ifNoneMatch && ifModifiedSince && Date.parse(ifModifiedSince) >= lastModified.getTime())) {
    response.end(304);
    return 'answered';
  }
  const ifMatch = request.headers['if-match'];
  if (ifMatch && !etagMatches(ifMatch, etag, false)) {
    response.problem({
      type: 'https://mserve.dev/problems/precondition-failed',
      title: 'Precondition Failed',
      status: 412,
      detail: 'If-Match does not match the current ETag',
    });
    return 'answered';
  }
  // Range applies to GET only (RFC 9110 §14.2); a stale If-Range means "send it all".
  const ifRange = request.headers['if-range'];
  const ranges = request.method !== 'GET' || (ifRange && ifRange !== etag) ? undefined : parseRanges(request.headers.range, file.size);
  if (ranges === 'unsatisfiable') {
    response.setHeader('Content-Range', `bytes */${file.size}`);
    response.problem({
      type: 'https://mserve.dev/problems/range-not-satisfiable',
      title: 'Range Not Satisfiable',
      status: 416,
      detail: `the file has ${file.size} bytes`,
    });
    return 'answered';
  }
  return ranges;
}

/**
 * A GET answered by the store itself: the same preconditions as {@link sendContent} (304, 412 and 416 are ours), then
 * 307 to `url`, a presigned GET of the object that answers with the same type and disposition and honours the
 * client's Range. Resolves with the bytes the client asked for (the range's, or the whole file's): what is metered,
 * since the bytes no longer pass through MServe.
 */
export function redirectContent(request: ContentRequest, response: ContentSink, file: Downloadable, url: string): number {
  const ranges = answerPreconditions(request, response, file);
  if (ranges === 'answered') return 0;
  response.setHeader('Location', url);
  // the URL is a short-lived credential for the object: never kept by a cache
  response.setHeader('Cache-Control', 'no-store');
  response.end(307);
  return ranges ? ranges.reduce((sum, range) => sum + range.end - range.start + 1, 0) : file.size;
}

/**
 * Sends stored bytes the way HTTP clients expect: strong ETag, `Repr-Digest`, conditional GET, one or several
 * byte ranges (multipart/byteranges), HEAD, and an optional bandwidth cap. Streamed with back-pressure.
 * Resolves with the number of body bytes actually written (multipart framing included), for access metering.
 */
export async function sendContent(
  store: BlobStore,
  request: ContentRequest,
  response: ContentSink,
  file: Downloadable,
  options: SendOptions = {},
): Promise<number> {
  const ranges = answerPreconditions(request, response, file);
  if (ranges === 'answered') return 0;
  const digest = reprDigest(file.sha256);
  if (digest) response.setHeader('Repr-Digest', digest);
  let body: () => Readable;
  let status: number;
  if (ranges && ranges.length > 1) {
    const multipart = multipartBody(store, file, ranges);
    status = 206;
    response.setHeader('Content-Type', multipart.contentType);
    response.setHeader('Content-Length', String(multipart.length));
    body = () => multipart.body;
  } else if (ranges) {
    const [range] = ranges;
    status = 206;
    response.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
    response.setHeader('Content-Length', String(range.end - range.start + 1));
    body = () => store.read(file.blobKey, range);
  } else {
    status = 200;
    response.setHeader('Content-Length', String(file.size));
    body = () => store.read(file.blobKey, undefined, file.size);
  }
  if (request.method === 'HEAD' || file.size === 0) {
    response.end(status);
    return 0;
  }
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      callback(null, chunk);
    },
  });
  const stages: NodeJS.ReadWriteStream[] = options.bytesPerSecond ? [new ThrottleTransform(options.bytesPerSecond), counter] : [counter];
  const source = await firstBytes(body());
  await pipeline([source, ...stages, response.body(status)]).catch(() => undefined);
  return sent;
}

/**
 * Resolves once `source` has its first bytes (or has ended), rejects if it fails before: a store that cannot be read
 * (an object store that is down: a 503 problem; a missing blob) is then answered as an error, before the status line
 * goes out, rather than as a 200 whose connection is cut. (A local file opens at once; an S3 read is a request.)
 */
function firstBytes(source: Readable): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      source.off('readable', ready).off('end', ready).off('error', settle);
      if (error) reject(error);
      else resolve(source);
    };
    const ready = () => settle();
    source.once('readable', ready).once('end', ready).once('error', settle);
  });
}
