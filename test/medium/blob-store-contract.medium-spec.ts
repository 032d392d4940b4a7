import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ProblemError } from '../../src/common/problem';
import { toProblem } from '../../src/common/problem.filter';
import { BlobStore } from '../../src/storage/blob-store';
import { ContentStore } from '../../src/storage/content-store';
import { S3BlobStore } from '../../src/storage/s3-store';
import { freePort } from '../support/free-port';
import { filesUnder } from '../support/storage-files';
import { s3rverStoreConfig, S3Server, startS3Server } from '../support/s3-server';

/** A source that sends `bytes` in 64 KiB pieces and then fails as a client that went away does. */
function abortedSource(bytes: Buffer): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= bytes.length) {
        this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
        return;
      }
      this.push(bytes.subarray(offset, offset + 64 * 1024));
      offset += 64 * 1024;
    },
  });
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Adapter {
  store: BlobStore;
  /** The blobs the store holds now (keys or paths): empty after a failed write. */
  stored(): Promise<string[]>;
  /** The node's local scratch leftovers (temp files, local copies). */
  scratch(): string[];
  close(): Promise<void>;
}

const adapters: Array<[string, () => Promise<Adapter>]> = [
  [
    'filesystem',
    async () => {
      const root = mkdtempSync(join(tmpdir(), 'mserve-contract-fs-'));
      const store = new ContentStore(root);
      await store.init();
      return {
        store,
        stored: () => Promise.resolve(filesUnder(join(root, 'blobs'))),
        scratch: () => filesUnder(join(root, 'tmp')),
        close: () => Promise.resolve(rmSync(root, { recursive: true, force: true })),
      };
    },
  ],
  [
    's3 (s3rver)',
    async () => {
      const server: S3Server = await startS3Server();
      const root = mkdtempSync(join(tmpdir(), 'mserve-contract-s3-'));
      const store = new S3BlobStore(root, s3rverStoreConfig(server.endpoint, 'mserve-contract'));
      await store.init();
      return {
        store,
        stored: async () => {
          // the objects a reader can see; an aborted multipart upload's parts are not among them. (s3rver 3.7.1
          // answers AbortMultipartUpload with 405, so its own staging folder, mserve-contract/._S3rver_uploads,
          // keeps what an aborted upload sent; S3 and the stores we target drop the parts on the abort.)
          const listed = await store.client.send(new ListObjectsV2Command({ Bucket: store.bucket }));
          return (listed.Contents ?? []).map((object) => object.Key!);
        },
        scratch: () => filesUnder(join(root, 'tmp')),
        close: async () => {
          store.destroy();
          await server.stop();
          rmSync(root, { recursive: true, force: true });
        },
      };
    },
  ],
];

describe.each(adapters)('the storage port, %s adapter (a real store)', (kind, make) => {
  let adapter: Adapter;
  let store: BlobStore;
  beforeAll(async () => {
    adapter = await make();
    store = adapter.store;
  });
  afterAll(() => adapter?.close());

  it('receives a stream into a new blob with its md5, sha256, size and head, small and in several parts', async () => {
    for (const bytes of [Buffer.from('hello'), randomBytes(9 * 1024 * 1024 + 123)]) {
      const blob = await store.receive(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), { maxBytes: bytes.length, expectedSize: bytes.length });
      expect(blob).toMatchObject({ size: bytes.length, md5: md5(bytes), sha256: sha256(bytes) });
      expect(blob.blobKey).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/);
      expect(blob.head.equals(bytes.subarray(0, 4100))).toBe(true);
      expect(await store.size(blob.blobKey)).toBe(bytes.length);
      expect((await readAll(store.read(blob.blobKey))).equals(bytes)).toBe(true);
      expect(await store.digest(blob.blobKey)).toMatchObject({ size: bytes.length, md5: md5(bytes), sha256: sha256(bytes) });
      await store.remove(blob.blobKey);
    }
    expect(await adapter.stored()).toEqual([]);
    expect(adapter.scratch()).toEqual([]);
  });

  it('reads ranges as streams: the first byte, a middle, the last, and a whole file in memory', async () => {
    const bytes = randomBytes(300_000);
    const blob = await store.storeBuffer(bytes);
    for (const range of [
      { start: 0, end: 0 },
      { start: 1000, end: 199_999 },
      { start: bytes.length - 1, end: bytes.length - 1 },
    ])
      expect((await readAll(store.read(blob.blobKey, range))).equals(bytes.subarray(range.start, range.end + 1))).toBe(true);
    expect((await store.readAll(blob.blobKey)).equals(bytes)).toBe(true);
    await store.remove(blob.blobKey);
  });

  it('duplicates a blob into an independent one (with its head), and removes are idempotent; a missing blob is ENOENT everywhere', async () => {
    const bytes = randomBytes(10_000);
    const blob = await store.storeBuffer(bytes);
    const copy = await store.duplicate(blob.blobKey, blob);
    expect(copy.blobKey).not.toBe(blob.blobKey);
    expect(copy).toMatchObject({ size: blob.size, md5: blob.md5, sha256: blob.sha256 });
    expect(copy.head.equals(bytes.subarray(0, 4100))).toBe(true);
    await store.remove(blob.blobKey);
    await store.remove(blob.blobKey);
    expect((await readAll(store.read(copy.blobKey))).equals(bytes)).toBe(true);
    await expect(store.size(blob.blobKey)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readAll(store.read(blob.blobKey))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(store.digest(blob.blobKey)).rejects.toMatchObject({ code: 'ENOENT' });
    // the filesystem adapter hands over its own path without a look (the tool finds it missing)
    if (kind !== 'filesystem') await expect(store.withLocalFile(blob.blobKey, () => Promise.resolve())).rejects.toMatchObject({ code: 'ENOENT' });
    await store.remove(copy.blobKey);
    expect(await adapter.stored()).toEqual([]);
  });

  it('hands tools a local file with the bytes, and leaves no local copy behind, also when the tool throws', async () => {
    const bytes = randomBytes(50_000);
    const blob = await store.storeBuffer(bytes);
    let seen = '';
    const answer = await store.withLocalFile(blob.blobKey, (path) => {
      seen = path;
      expect(readFileSync(path).equals(bytes)).toBe(true);
      return Promise.resolve(42);
    });
    expect(answer).toBe(42);
    await expect(
      store.withLocalFile(blob.blobKey, (path) => {
        seen = path;
        return Promise.reject(new Error('the tool failed'));
      }),
    ).rejects.toThrow('the tool failed');
    if (kind === 'filesystem')
      expect(existsSync(seen)).toBe(true); // its own file, never a copy
    else {
      expect(existsSync(seen)).toBe(false);
      const room = (store as S3BlobStore).localCopies;
      expect({ active: room.active, held: room.held, made: room.made }).toEqual({ active: 0, held: 0, made: 2 });
      expect(room.peak).toBe(bytes.length);
    }
    expect(adapter.scratch()).toEqual([]);
    await store.remove(blob.blobKey);
  });

  it('adopts local files: an assembled upload (commitTemp) and a task output (commitFile), gone from the local disk afterwards', async () => {
    const bytes = randomBytes(20_000);
    const temp = store.newTempPath();
    writeFileSync(temp, bytes);
    const blob = await store.commitTemp(temp, { size: bytes.length, md5: md5(bytes), sha256: sha256(bytes), head: bytes.subarray(0, 4100) });
    expect(existsSync(temp)).toBe(false);
    expect((await store.readAll(blob.blobKey)).equals(bytes)).toBe(true);
    const output = `${store.newTempPath()}.jpg`;
    writeFileSync(output, bytes);
    const made = await store.commitFile(output);
    expect(made).toMatchObject({ size: bytes.length, md5: md5(bytes), sha256: sha256(bytes) });
    expect(existsSync(output)).toBe(false);
    await store.remove(blob.blobKey);
    await store.remove(made.blobKey);
    expect(adapter.scratch()).toEqual([]);
  });

  it('leaves nothing behind when the source is aborted (in one part or in several), too large, short of its length, or refused by verify', async () => {
    await expect(store.receive(abortedSource(randomBytes(100_000)), { maxBytes: 1e9 })).rejects.toMatchObject({ status: 400, code: 'upload-aborted' });
    await expect(store.receive(abortedSource(randomBytes(20 * 1024 * 1024)), { maxBytes: 1e9 })).rejects.toMatchObject({
      status: 400,
      code: 'upload-aborted',
    });
    await expect(store.receive(Readable.from([randomBytes(10_000)]), { maxBytes: 5000 })).rejects.toMatchObject({ status: 413 });
    await expect(store.receive(Readable.from([randomBytes(10_000)]), { maxBytes: 1e9, expectedSize: 20_000 })).rejects.toMatchObject({ status: 400 });
    await expect(
      store.receive(Readable.from([randomBytes(10_000)]), {
        maxBytes: 1e9,
        verify: () => {
          throw new ProblemError(400, 'digest-mismatch', 'Digest mismatch');
        },
      }),
    ).rejects.toMatchObject({ code: 'digest-mismatch' });
    expect(await adapter.stored()).toEqual([]);
    expect(adapter.scratch()).toEqual([]);
  });

  it('probes the store', async () => {
    await expect(store.probe()).resolves.toBeUndefined();
  });
});

describe('the S3 adapter, copies above what CopyObject takes', () => {
  let server: S3Server;
  let store: S3BlobStore;
  let root: string;
  beforeAll(async () => {
    server = await startS3Server();
    root = mkdtempSync(join(tmpdir(), 'mserve-contract-s3-copy-'));
    // CopyObject's limit is 5 GiB: here 1 MiB, so a 6 MiB blob takes the streamed path (a multipart upload)
    store = new S3BlobStore(root, s3rverStoreConfig(server.endpoint, 'mserve-contract-copy'), 1024 * 1024);
    await store.init();
  });
  afterAll(async () => {
    store.destroy();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const objects = async () => ((await store.client.send(new ListObjectsV2Command({ Bucket: store.bucket }))).Contents ?? []).map((object) => object.Key!);

  it('streams the copy through our hashing and keeps it only when it hashes to the recorded digest', async () => {
    const bytes = randomBytes(6 * 1024 * 1024 + 17);
    const blob = await store.receive(Readable.from([bytes]), { maxBytes: 1e9 });
    const copy = await store.duplicate(blob.blobKey, blob);
    expect(copy.blobKey).not.toBe(blob.blobKey);
    expect({ size: copy.size, md5: copy.md5, sha256: copy.sha256 }).toEqual({ size: blob.size, md5: blob.md5, sha256: blob.sha256 });
    expect(copy.head).toEqual(bytes.subarray(0, copy.head.length));
    expect((await readAll(store.read(copy.blobKey))).equals(bytes)).toBe(true); // (toEqual on 6 MiB takes a minute)
    // a recorded digest the bytes do not have: refused, nothing new kept
    const before = await objects();
    await expect(store.duplicate(blob.blobKey, { ...blob, sha256: '0'.repeat(64) })).rejects.toThrow(/not the recorded/);
    expect(await objects()).toEqual(before);
  });
});

describe('the S3 adapter, when its store cannot be reached', () => {
  let store: S3BlobStore;
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'mserve-contract-s3-down-'));
    // a free port nobody listens on: every request is refused
    store = new S3BlobStore(
      root,
      s3rverStoreConfig(`http://127.0.0.1:${await freePort()}`, 'mserve-contract', { createBucket: false, localCopyMaxBytes: 1024 * 1024 }),
    );
    await store.init();
  });
  afterAll(() => {
    store.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After (dependency "storage") for a probe, an upload, a read, a size, a copy and a local file, and leaves no local file', async () => {
    const outage = { status: 503, extra: expect.objectContaining({ dependency: 'storage', retryAfterSeconds: expect.any(Number) }) };
    const key = '00/00/00000000-0000-7000-8000-000000000000';
    await expect(store.probe()).rejects.toMatchObject(outage);
    await expect(store.receive(Readable.from([randomBytes(1000)]), { maxBytes: 1e9 })).rejects.toMatchObject(outage);
    await expect(readAll(store.read(key))).rejects.toMatchObject(outage);
    await expect(store.size(key)).rejects.toMatchObject(outage);
    await expect(store.duplicate(key, { size: 1, md5: '', sha256: '' })).rejects.toMatchObject(outage);
    await expect(store.withLocalFile(key, () => Promise.resolve())).rejects.toMatchObject(outage);
    const problem = toProblem(await store.probe().catch((error: unknown) => error));
    expect(problem).toMatchObject({ status: 503, dependency: 'storage', retryAfterSeconds: expect.any(Number) });
    expect(filesUnder(join(root, 'tmp'))).toEqual([]);
    expect(statSync(join(root, 'uploads')).isDirectory()).toBe(true);
  });
});
