import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BackupStore, FileBackupStore, SourceMismatch } from '../../src/storage/backup-store';
import { BlobStore } from '../../src/storage/blob-store';
import { ContentStore } from '../../src/storage/content-store';
import { BACKUP_PREFIX, S3BackupStore } from '../../src/storage/s3-backup-store';
import { S3BlobStore } from '../../src/storage/s3-store';
import { freePort } from '../support/free-port';
import { filesUnder } from '../support/storage-files';
import { s3rverStoreConfig, S3Server, startS3Server } from '../support/s3-server';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Adapter {
  content: BlobStore;
  backups: BackupStore;
  /** Everything the backup store holds now, temporary copies included (names relative to its root or prefix). */
  stored(): Promise<string[]>;
  /** Overwrites the copy of `sha` with other bytes, as bit rot would. */
  damage(sha: string, bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

const adapters: Array<[string, () => Promise<Adapter>]> = [
  [
    'filesystem',
    async () => {
      const root = mkdtempSync(join(tmpdir(), 'mserve-backup-contract-fs-'));
      const content = new ContentStore(join(root, 'content'));
      await content.init();
      const backups = new FileBackupStore(join(root, 'backup'), content);
      return {
        content,
        backups,
        stored: () => Promise.resolve(filesUnder(backups.root)),
        damage: (sha, bytes) => Promise.resolve(writeFileSync(backups.pathOf(sha), bytes)),
        close: () => Promise.resolve(rmSync(root, { recursive: true, force: true })),
      };
    },
  ],
  [
    's3 (s3rver, a backup bucket of its own)',
    async () => {
      const server: S3Server = await startS3Server();
      const root = mkdtempSync(join(tmpdir(), 'mserve-backup-contract-s3-'));
      const config = s3rverStoreConfig(server.endpoint, 'mserve-content', { backupBucket: 'mserve-backup' });
      const content = new S3BlobStore(root, config);
      await content.init();
      const backups = new S3BackupStore(content, config.backupBucket, true);
      await backups.init();
      return {
        content,
        backups,
        stored: async () => {
          const listed = await content.client.send(new ListObjectsV2Command({ Bucket: backups.bucket }));
          return (listed.Contents ?? []).map((object) => object.Key!.slice(BACKUP_PREFIX.length));
        },
        damage: async (sha, bytes) => {
          await content.client.send(new PutObjectCommand({ Bucket: backups.bucket, Key: backups.keyOf(sha), Body: bytes }));
        },
        close: async () => {
          content.destroy();
          await server.stop();
          rmSync(root, { recursive: true, force: true });
        },
      };
    },
  ],
];

describe.each(adapters)('the backup port, %s adapter (a real store)', (_kind, make) => {
  let adapter: Adapter;
  let backups: BackupStore;
  beforeAll(async () => {
    adapter = await make();
    backups = adapter.backups;
  });
  afterAll(() => adapter?.close());
  afterEach(async () => {
    for (const name of await adapter.stored()) await backups.remove(name.slice(3));
  });

  const blobOf = async (bytes: Buffer) => {
    const blob = await adapter.content.storeBuffer(bytes);
    return { blobKey: blob.blobKey, sha256: blob.sha256, size: blob.size };
  };

  // small (one read on the filesystem) and large (streamed; a multipart object in S3)
  for (const [what, size] of [
    ['small', 1200],
    ['large', 9 * 1024 * 1024 + 5],
  ] as const) {
    it(`keeps one verified copy of ${what} content, addressed by its sha256, read back whole, and none again for the same bytes`, async () => {
      const bytes = randomBytes(size);
      const one = await blobOf(bytes);
      expect(await backups.has(one.sha256)).toBe(false);
      expect(await backups.put(one)).toEqual({ created: true, size });
      expect(await backups.has(one.sha256)).toBe(true);
      expect((await readAll(await backups.open(one.sha256))).equals(bytes)).toBe(true);
      const twin = await blobOf(bytes);
      expect(await backups.put(twin)).toEqual({ created: false, size });
      expect(await adapter.stored()).toEqual([`${one.sha256.slice(0, 2)}/${one.sha256}`]);
    });
  }

  it('refuses bytes that no longer hash to what was recorded, leaving nothing behind (no temporary copy either)', async () => {
    const recorded = randomBytes(3000);
    const changed = await blobOf(Buffer.concat([recorded, Buffer.from('!')]));
    await expect(backups.put({ ...changed, sha256: sha256(recorded) })).rejects.toBeInstanceOf(SourceMismatch);
    expect(await backups.has(sha256(recorded))).toBe(false);
    expect(await adapter.stored()).toEqual([]);
  });

  it('replaces a damaged copy with a verified one (not counted as a new copy)', async () => {
    const bytes = Buffer.from('precious\n');
    const one = await blobOf(bytes);
    await backups.put(one);
    await adapter.damage(one.sha256, Buffer.from('rotten'));
    expect(await backups.put(one)).toEqual({ created: false, size: bytes.length });
    expect((await readAll(await backups.open(one.sha256))).toString()).toBe('precious\n');
  });

  it('removes a copy (again: no error); a missing copy is not there and opens with ENOENT', async () => {
    const one = await blobOf(randomBytes(500));
    await backups.put(one);
    await backups.remove(one.sha256);
    await backups.remove(one.sha256);
    expect(await backups.has(one.sha256)).toBe(false);
    await expect(backups.open(one.sha256)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await adapter.stored()).toEqual([]);
  });
});

describe('the S3 backup adapter, when its store cannot be reached', () => {
  let content: S3BlobStore;
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'mserve-backup-contract-s3-down-'));
    // a free port nobody listens on: every request is refused
    content = new S3BlobStore(
      root,
      s3rverStoreConfig(`http://127.0.0.1:${await freePort()}`, 'mserve-content', {
        backupBucket: 'mserve-backup',
        createBucket: false,
        localCopyMaxBytes: 1024 * 1024,
      }),
    );
  });
  afterAll(() => {
    content.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After (dependency "storage") for has, put, open and remove: no answer is taken for "no copy"', async () => {
    const backups = new S3BackupStore(content, 'mserve-backup', false);
    const outage = { status: 503, extra: expect.objectContaining({ dependency: 'storage', retryAfterSeconds: expect.any(Number) }) };
    const sha = sha256(Buffer.from('anything'));
    await expect(backups.has(sha)).rejects.toMatchObject(outage);
    await expect(backups.put({ blobKey: '00/00/00000000-0000-7000-8000-000000000000', sha256: sha, size: 8 })).rejects.toMatchObject(outage);
    await expect(backups.open(sha)).rejects.toMatchObject(outage);
    await expect(backups.remove(sha)).rejects.toMatchObject(outage);
  });
});

describe('the S3 backup adapter, when its store goes away in the middle of a read', () => {
  it('errors the copy being read with a 503 (an outage), not a bare ECONNRESET (which `receive` takes for an aborted upload)', async () => {
    const server = await startS3Server();
    const root = mkdtempSync(join(tmpdir(), 'mserve-backup-contract-s3-cut-'));
    const content = new S3BlobStore(root, s3rverStoreConfig(server.endpoint, 'mserve-content'));
    try {
      await content.init();
      const backups = new S3BackupStore(content, 'mserve-content', true);
      // larger than the socket buffers can hold: the server is killed while most of it is still to come
      const blob = await content.storeBuffer(randomBytes(48 * 1024 * 1024));
      await backups.put(blob);
      const copy = await backups.open(blob.sha256);
      let read = 0;
      const reading = (async () => {
        for await (const chunk of copy) {
          read += (chunk as Buffer).length;
          if (server.process.exitCode === null && server.process.signalCode === null) await server.stop();
        }
      })();
      await expect(reading).rejects.toMatchObject({ status: 503, extra: expect.objectContaining({ dependency: 'storage' }) });
      expect(read).toBeLessThan(blob.size);
    } finally {
      content.destroy();
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
