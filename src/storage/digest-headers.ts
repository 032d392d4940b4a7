import type { IncomingHttpHeaders } from 'node:http';
import { ProblemError, Problems } from '../common/problem';

/** Digests a client declared for the bytes it sends, as hex, with the header each came from. */
export interface ExpectedDigests {
  md5?: { hex: string; header: string };
  sha256?: { hex: string; header: string };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** RFC 9530 dictionary member `sha-256=:<base64>:`; other algorithms are ignored (we only verify sha-256). */
function sha256FromDigestField(value: string, name: string): string | undefined {
  for (const member of value.split(',')) {
    const match = /^\s*sha-256\s*=\s*:([A-Za-z0-9+/=]+):\s*$/i.exec(member);
    if (!match) continue;
    const bytes = Buffer.from(match[1], 'base64');
    if (bytes.length !== 32) throw Problems.badRequest(`${name} sha-256 is not 32 bytes of base64`, { errors: [`${name} is malformed`] });
    return bytes.toString('hex');
  }
  if (/sha-256/i.test(value)) throw Problems.badRequest(`${name} is malformed: expected sha-256=:<base64>:`, { errors: [`${name} is malformed`] });
  return undefined;
}

/**
 * Reads Content-MD5 (RFC 1864) and Repr-Digest / Content-Digest (RFC 9530, sha-256). For a plain upload body the
 * content is the representation, so both digest fields describe the whole file.
 */
export function expectedDigests(headers: IncomingHttpHeaders): ExpectedDigests {
  const expected: ExpectedDigests = {};
  const contentMd5 = header(headers, 'content-md5');
  if (contentMd5) {
    const bytes = Buffer.from(contentMd5.trim(), 'base64');
    if (bytes.length !== 16 || !/^[A-Za-z0-9+/]{22}==$/.test(contentMd5.trim()))
      throw Problems.badRequest('Content-MD5 must be the base64 of 16 bytes', { errors: ['Content-MD5 is malformed'] });
    expected.md5 = { hex: bytes.toString('hex'), header: 'Content-MD5' };
  }
  for (const name of ['repr-digest', 'content-digest']) {
    const value = header(headers, name);
    const hex = value ? sha256FromDigestField(value, name === 'repr-digest' ? 'Repr-Digest' : 'Content-Digest') : undefined;
    if (hex && expected.sha256 && expected.sha256.hex !== hex) throw Problems.badRequest('Repr-Digest and Content-Digest disagree');
    if (hex) expected.sha256 = { hex, header: name === 'repr-digest' ? 'Repr-Digest' : 'Content-Digest' };
  }
  return expected;
}

export function hasExpectations(expected: ExpectedDigests): boolean {
  return Boolean(expected.md5 || expected.sha256);
}

/** Throws a 400 naming the digest that failed; the caller discards the bytes. */
export function verifyDigests(expected: ExpectedDigests, actual: { md5: string; sha256: string }): void {
  for (const algorithm of ['md5', 'sha256'] as const) {
    const wanted = expected[algorithm];
    if (wanted && wanted.hex !== actual[algorithm]) {
      throw new ProblemError(400, 'digest-mismatch', 'Digest mismatch', `the ${wanted.header} header does not match the received bytes: nothing was stored`, {
        digest: wanted.header,
        algorithm,
        expected: wanted.hex,
        actual: actual[algorithm],
      });
    }
  }
}
