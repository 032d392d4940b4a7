import { toProblem } from '../common/problem.filter';
import { partBytesFor, stageError, translateS3Error } from './s3-store';

/** What the AWS SDK v3 throws: a service exception named after S3's error code, with the HTTP status in $metadata. */
const serviceError = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:9000`), { code, $metadata: { attempts: 2 } });

describe('S3 errors as the rest of MServe knows storage errors (translateS3Error)', () => {
  it.each([
    ['a refused connection', socketError('ECONNREFUSED')],
    ['a reset connection', socketError('ECONNRESET')],
    ['a name that does not resolve', socketError('ENOTFOUND')],
    ['no answer in time', Object.assign(new Error('socket timed out'), { name: 'TimeoutError' })],
    ['503 Slow Down', serviceError('SlowDown', 503)],
    ['500 Internal Error', serviceError('InternalError', 500)],
    ['a 502 from a proxy in front', serviceError('Unknown', 502)],
    ['a socket error of another realm, wrapped by the SDK', new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9000')],
  ])('%s is a 503 with Retry-After (dependency storage)', (_what, error) => {
    expect(toProblem(translateS3Error(error), 'r1')).toMatchObject({ status: 503, dependency: 'storage', retryAfterSeconds: expect.any(Number) });
  });

  it('a full store is a 507', () => {
    expect(toProblem(translateS3Error(serviceError('XMinioStorageFull', 507)))).toMatchObject({ status: 507 });
    expect(toProblem(translateS3Error(serviceError('Whatever', 507)))).toMatchObject({ status: 507 });
  });

  it('a missing object is ENOENT (as on the filesystem); a missing bucket or refused credentials stay what they are (a 500)', () => {
    expect(translateS3Error(serviceError('NoSuchKey', 404), 'ab/cd/x')).toMatchObject({ code: 'ENOENT' });
    expect(translateS3Error(serviceError('NotFound', 404), 'ab/cd/x')).toMatchObject({ code: 'ENOENT' });
    const noBucket = serviceError('NoSuchBucket', 404);
    expect(translateS3Error(noBucket, 'ab/cd/x')).toBe(noBucket);
    const denied = serviceError('AccessDenied', 403);
    expect(translateS3Error(denied, 'ab/cd/x')).toBe(denied);
    expect(toProblem(denied)).toMatchObject({ status: 500 });
  });

  it("a staged upload's multipart upload the store no longer knows is a 409; other staging errors translate as above", () => {
    expect(toProblem(stageError(serviceError('NoSuchUpload', 404)))).toMatchObject({ status: 409 });
    expect(toProblem(stageError(socketError('ECONNREFUSED')), 'r1')).toMatchObject({ status: 503, dependency: 'storage' });
  });
});

describe('the part size of a multipart upload (partBytesFor)', () => {
  const MiB = 1024 * 1024;
  it('is 8 MiB up to what 10,000 such parts hold, and for a stream of unknown length', () => {
    expect(partBytesFor()).toBe(8 * MiB);
    expect(partBytesFor(1)).toBe(8 * MiB);
    expect(partBytesFor(10_000 * 8 * MiB)).toBe(8 * MiB);
  });
  it('grows in whole MiB past that, so that 10,000 parts always hold the declared size (1 TiB: 105 MiB parts)', () => {
    for (const size of [10_000 * 8 * MiB + 1, 100 * 1024 * MiB, 1024 * 1024 * MiB]) {
      const part = partBytesFor(size);
      expect(part % MiB).toBe(0);
      expect(part * 10_000).toBeGreaterThanOrEqual(size);
      expect((part - MiB) * 10_000).toBeLessThan(size);
    }
    expect(partBytesFor(1024 * 1024 * MiB)).toBe(105 * MiB);
  });
});
