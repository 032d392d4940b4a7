import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { ContentStore } from '../storage/content-store';
import { contentDisposition, etagMatches, strongEtag } from './content-headers';

export interface Downloadable {
  blobKey: string;
  size: number;
  sha256: string;
  mimetype: string;
  name: string;
  contentUpdatedAt: Date;
}

/** A single `bytes=a-b` range resolved against the size, undefined when absent or unusable. */
export function parseSingleRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

/**
 * Sends stored bytes the way HTTP clients expect (strong ETag, conditional GET, one byte range, HEAD), streamed
 * with back-pressure. Resolves with the number of body bytes actually written, for access metering.
 */
export async function sendContent(store: ContentStore, request: Request, response: Response, file: Downloadable): Promise<number> {
  const etag = strongEtag(file.sha256);
  const lastModified = new Date(Math.floor(file.contentUpdatedAt.getTime() / 1000) * 1000);
  response.setHeader('ETag', etag);
  response.setHeader('Last-Modified', lastModified.toUTCString());
  response.setHeader('Accept-Ranges', 'bytes');
  response.setHeader('Content-Type', file.mimetype);
  response.setHeader('Content-Disposition', contentDisposition(file.name));
  response.setHeader('Cache-Control', 'private, no-cache');
  response.setHeader('X-Content-Type-Options', 'nosniff');
  const ifNoneMatch = request.headers['if-none-match'];
  const ifModifiedSince = request.headers['if-modified-since'];
  if (etagMatches(ifNoneMatch, etag) || (!ifNoneMatch && ifModifiedSince && Date.parse(ifModifiedSince) >= lastModified.getTime())) {
    response.status(304).end();
    return 0;
  }
  const ifMatch = request.headers['if-match'];
  if (ifMatch && !etagMatches(ifMatch, etag, false)) {
    response.status(412).type('application/problem+json').send(JSON.stringify({ type: 'https://mserve.dev/problems/precondition-failed', title: 'Precondition Failed', status: 412, detail: 'If-Match does not match the current ETag' }));
    return 0;
  }
  const ifRange = request.headers['if-range'];
  const range = ifRange && ifRange !== etag ? undefined : parseSingleRange(request.headers.range, file.size);
  if (range === 'unsatisfiable') {
    response.setHeader('Content-Range', `bytes */${file.size}`);
    response.status(416).type('application/problem+json').send(JSON.stringify({ type: 'https://mserve.dev/problems/range-not-satisfiable', title: 'Range Not Satisfiable', status: 416, detail: `the file has ${file.size} bytes` }));
    return 0;
  }
  if (range) {
    response.status(206);
    response.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
    response.setHeader('Content-Length', String(range.end - range.start + 1));
  } else {
    response.status(200);
    response.setHeader('Content-Length', String(file.size));
  }
  if (request.method === 'HEAD' || file.size === 0) {
    response.end();
    return 0;
  }
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      callback(null, chunk);
    },
  });
  await pipeline(store.read(file.blobKey, range), counter, response).catch(() => undefined);
  return sent;
}
