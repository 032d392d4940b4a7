import type { IncomingHttpHeaders } from 'node:http';
import { expectedDigests } from '../storage/digest-headers';
import type { ChunkChecksum } from './upload-sessions.service';

/**
 * Content-MD5 and Content-Digest on a chunk request describe that request's body: the chunk. (Repr-Digest
 * describes the whole file and is checked when the upload completes.)
 */
export function chunkDigestChecksums(headers: IncomingHttpHeaders): ChunkChecksum[] {
  const { 'repr-digest': _whole, ...chunkHeaders } = headers;
  const expected = expectedDigests(chunkHeaders);
  const checksums: ChunkChecksum[] = [];
  if (expected.md5)
    checksums.push({ algorithm: 'md5', expected: Buffer.from(expected.md5.hex, 'hex').toString('base64'), header: expected.md5.header, status: 400 });
  if (expected.sha256)
    checksums.push({ algorithm: 'sha256', expected: Buffer.from(expected.sha256.hex, 'hex').toString('base64'), header: expected.sha256.header, status: 400 });
  return checksums;
}

/** Repr-Digest on a chunk request: the digest of the whole file, verified at completion. */
export function reprDigest(headers: IncomingHttpHeaders) {
  return expectedDigests({ 'repr-digest': headers['repr-digest'] });
}
