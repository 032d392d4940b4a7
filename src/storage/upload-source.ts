import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { ProblemError, Problems } from '../common/problem';
import { normalizeName, unsafeNameReason } from '../common/validation';
import { expectedDigests, ExpectedDigests, hasExpectations, verifyDigests } from './digest-headers';

/** Bytes arriving from a client (an HTTP body), with its name and what it declared: what the content store receives. */
export interface UploadSource {
  stream: Readable;
  name: string;
  /** What the client said the type is; a fallback after magic numbers and extension. */
  declaredType?: string;
  /** Content-Length of a raw body: a shorter body is an incomplete upload. */
  expectedSize?: number;
  /** Checks the digests the client declared (Content-MD5, Repr-Digest, Content-Digest) once the bytes are in. */
  verify?: (digest: { md5: string; sha256: string }) => void;
}

function checkName(name: string | undefined, where: string): string {
  if (name === undefined || name === '') throw Problems.badRequest(`a file name is required (${where})`, { errors: [`name is required (${where})`] });
  const normalized = normalizeName(name);
  const reason = unsafeNameReason(normalized);
  if (reason) throw Problems.badRequest(`name ${reason}`, { errors: [`name ${reason}`] });
  return normalized;
}

/**
 * A raw request body as an upload (also WebDAV's PUT, whatever its Content-Type): its Content-Length, when sent,
 * is the size it must reach (chunked bodies have none), and its digest headers are checked before the commit.
 */
export function rawUpload(request: IncomingMessage, name: string): UploadSource {
  const length = request.headers['content-length'] !== undefined ? Number(request.headers['content-length']) : undefined;
  const expected = expectedDigests(request.headers);
  return {
    stream: request,
    name,
    declaredType: (request.headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim(),
    expectedSize: length,
    verify: hasExpectations(expected) ? (digest) => verifyDigests(expected, digest) : undefined,
  };
}

/**
 * Opens the bytes of an upload without buffering them: a multipart/form-data body (field `file`, its filename
 * used unless ?name= is given) or a raw body with ?name=. Never reads the whole file into memory.
 */
export function openUpload(request: IncomingMessage, options: { maxBytes: number; nameOverride?: string }): Promise<UploadSource> {
  const contentType = request.headers['content-type'] ?? 'application/octet-stream';
  const length = request.headers['content-length'] !== undefined ? Number(request.headers['content-length']) : undefined;
  if (length !== undefined && length > options.maxBytes) {
    throw Problems.tooLarge(`the upload declares ${length} bytes; the limit is ${options.maxBytes}`, { limit: options.maxBytes });
  }
  if (!/^multipart\/form-data/i.test(contentType)) {
    if (/^application\/(json|x-www-form-urlencoded)/i.test(contentType)) {
      throw Problems.unsupportedMediaType('send the file as multipart/form-data (field "file") or as a raw body with ?name=');
    }
    return Promise.resolve(rawUpload(request, checkName(options.nameOverride, 'as ?name= for a raw body')));
  }
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // filenames as browsers and fetch send them: raw UTF-8 (busboy's default, latin1, turned "é" into "Ã©")
      parser = busboy({
        headers: request.headers,
        defParamCharset: 'utf8',
        limits: { files: 1, fileSize: options.maxBytes + 1, fields: 20, fieldSize: 64 * 1024 },
      });
    } catch (error) {
      reject(Problems.badRequest(`malformed multipart body: ${(error as Error).message}`));
      return;
    }
    let settled = false;
    const fields: Record<string, string> = {};
    parser.on('field', (name, value) => {
      if (name === 'md5' || name === 'sha256') fields[name] = value.trim();
    });
    parser.on('file', (field, stream, info) => {
      // busboy destroys every file stream with the parser's error when the form is cut short: a stream nobody reads
      // still needs a listener, or that error is unhandled and takes the process down
      stream.on('error', () => undefined);
      if (field !== 'file' || settled) {
        stream.resume();
        return;
      }
      settled = true;
      // busboy ends the file with a plain Error when the form is cut short (no closing boundary) or a part is
      // malformed: the client's doing, so it is told so (400) instead of a server error
      stream.on('error', (error: Error & { status?: number }) => {
        if (!(error instanceof ProblemError) && error.status === undefined)
          Object.assign(error, { status: 400, message: `malformed multipart body: ${error.message}` });
      });
      stream.on('limit', () => stream.destroy(Problems.tooLarge(`the file is larger than the ${options.maxBytes} bytes allowed`, { limit: options.maxBytes })));
      try {
        const name = checkName(options.nameOverride ?? info.filename, 'as the multipart filename or ?name=');
        // In a multipart body the digest headers describe the whole message; the file's own digests may come
        // as form fields md5 / sha256 (hex) sent before the file.
        const expected: ExpectedDigests = {};
        if (fields.md5) expected.md5 = { hex: fields.md5.toLowerCase(), header: 'md5 form field' };
        if (fields.sha256) expected.sha256 = { hex: fields.sha256.toLowerCase(), header: 'sha256 form field' };
        resolve({ stream, name, declaredType: info.mimeType, verify: hasExpectations(expected) ? (digest) => verifyDigests(expected, digest) : undefined });
      } catch (error) {
        stream.resume();
        reject(error);
      }
    });
    parser.on('error', (error: Error) => {
      if (!settled) reject(Problems.badRequest(`malformed multipart body: ${error.message}`));
    });
    parser.on('close', () => {
      if (!settled) reject(Problems.badRequest('the multipart body has no file field named "file"', { errors: ['file is required'] }));
    });
    request.on('aborted', () => {
      if (!settled) reject(Problems.badRequest('the client closed the connection before the upload finished'));
    });
    request.pipe(parser);
  });
}
