import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readdirSync, readdirSync as listDir, readFileSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { ProblemError } from '../common/problem';
import { ContentStore, digestFile, KnownFolders, readBufferSize, translateStorageError, Writeback } from './content-store';
import { pipeline } from 'node:stream/promises';
import { looksLikeText } from './mime-detector';

describe('ContentStore (real disk)', () => {
  let root: string;
  let store: ContentStore;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'mserve-store-'));
    store = new ContentStore(root);
    await store.init();
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('hashes while writing and commits by rename', async () => {
    const chunks = [Buffer.from('hello '), Buffer.from('world')];
    const blob = await store.receive(Readable.from(chunks), { maxBytes: 100 });
    expect(blob).toMatchObject({
      size: 11,
      md5: createHash('md5').update('hello world').digest('hex'),
      sha256: createHash('sha256').update('hello world').digest('hex'),
    });
    expect(blob.head.toString()).toBe('hello world');
    expect(blob.blobKey).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('leaves nothing behind when the limit is passed or the source fails', async () => {
    await expect(store.receive(Readable.from([Buffer.alloc(200)]), { maxBytes: 100 })).rejects.toMatchObject({ status: 413 });
    const failing = new Readable({
      read() {
        this.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
      },
    });
    await expect(store.receive(failing, { maxBytes: 100 })).rejects.toMatchObject({ status: 400, code: 'upload-aborted' });
    await expect(store.receive(Readable.from([Buffer.alloc(5)]), { maxBytes: 100, expectedSize: 10 })).rejects.toMatchObject({ status: 400 });
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(readdirSync(join(root, 'blobs'))).toEqual([]);
  });

  it('writes back while a long write goes on, passes the bytes unchanged, and releases its descriptor', async () => {
    const path = join(root, 'tmp', 'long.bin');
    const writeback = new Writeback(path, 64 * 1024);
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const fds = () => listDir('/proc/self/fd').length;
    const before = fds();
    await pipeline(Readable.from(chunks), writeback, createWriteStream(path));
    await writeback.settle();
    expect(readFileSync(path).equals(Buffer.concat(chunks))).toBe(true);
    expect(fds()).toBe(before);
    expect(writeback.syncs).toBeGreaterThanOrEqual(1);
  });

  it('a write-back before the writer created the file is skipped, not a failure', async () => {
    const path = join(root, 'tmp', 'late.bin');
    const writeback = new Writeback(path, 1);
    const kept: Buffer[] = [];
    // a writer that creates its file only at the end, as a slow open of createWriteStream would
    const late = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        kept.push(chunk);
        setTimeout(callback, 2);
      },
      final(callback) {
        writeFileSync(path, Buffer.concat(kept));
        callback();
      },
    });
    await pipeline(Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]), writeback, late);
    await expect(writeback.settle()).resolves.toBeUndefined();
    expect(readFileSync(path).toString()).toBe('abc');
    expect(writeback.syncs).toBe(0);
  });

  it('makes a shard folder once, and again when it was removed behind its back', async () => {
    const first = await store.receive(Readable.from([Buffer.from('one')]), { maxBytes: 100 });
    rmSync(join(root, 'blobs', first.blobKey.slice(0, 2)), { recursive: true, force: true });
    const folders = new KnownFolders();
    const shard = join(root, 'blobs', 'zz');
    writeFileSync(join(root, 'tmp', 'a'), 'a');
    await folders.renameInto(shard, join(root, 'tmp', 'a'), join(shard, 'a'));
    rmSync(shard, { recursive: true });
    writeFileSync(join(root, 'tmp', 'b'), 'b');
    await folders.renameInto(shard, join(root, 'tmp', 'b'), join(shard, 'b')); // known, gone: made again
    expect(readFileSync(join(shard, 'b'), 'utf8')).toBe('b');
    // a missing source is still an error, not a folder to make
    await expect(folders.renameInto(shard, join(root, 'tmp', 'none'), join(shard, 'c'))).rejects.toMatchObject({ code: 'ENOENT' });
    // the store itself: a blob into a shard folder someone removed
    const again = await store.receive(Readable.from([Buffer.from('two')]), { maxBytes: 100 });
    expect(readFileSync(store.pathOf(again.blobKey), 'utf8')).toBe('two');
  });

  it('maps a full disk to 507', () => {
    const mapped = translateStorageError(Object.assign(new Error('no space'), { code: 'ENOSPC' }));
    expect(mapped).toBeInstanceOf(ProblemError);
    expect((mapped as ProblemError).status).toBe(507);
  });

  it('cleans temp files of dead processes and stale ones, keeps live ones', async () => {
    writeFileSync(join(root, 'tmp', `${hostname()}~999999~dead`), 'x');
    writeFileSync(join(root, 'tmp', `otherhost~1~stale`), 'x');
    utimesSync(join(root, 'tmp', 'otherhost~1~stale'), new Date(0), new Date(0));
    writeFileSync(join(root, 'tmp', `otherhost~1~fresh`), 'x');
    const live = store.newTempPath();
    writeFileSync(live, 'x');
    expect(await store.cleanTemp()).toBe(2);
    expect(readdirSync(join(root, 'tmp')).sort()).toEqual(['otherhost~1~fresh', live.split('/').pop()].sort());
  });

  it('refuses blob keys that are not ours (no path escapes)', () => {
    expect(() => store.pathOf('../../etc/passwd')).toThrow();
    expect(() => store.pathOf('ab/cd/../../x')).toThrow();
  });

  it('tells text from binary', () => {
    expect(looksLikeText(Buffer.from('plain words\nand lines\n'))).toBe(true);
    expect(looksLikeText(Buffer.from([0, 1, 2, 3, 4, 5, 6]))).toBe(false);
  });
});

describe('read buffers', () => {
  it('are sized to what is read: at least 64 KiB, at most the maximum, the maximum when the size is unknown', () => {
    expect(readBufferSize(2048)).toBe(64 * 1024);
    expect(readBufferSize(300 * 1024)).toBe(300 * 1024);
    expect(readBufferSize(50 * 1024 * 1024)).toBe(1024 * 1024);
    expect(readBufferSize(undefined)).toBe(1024 * 1024);
    expect(readBufferSize(10 * 1024 * 1024, 256 * 1024)).toBe(256 * 1024);
  });

  it('digest a whole file through a stream sized to it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mserve-readbuf-'));
    try {
      const bytes = Buffer.alloc(200 * 1024 + 7, 3);
      writeFileSync(join(dir, 'f'), bytes);
      const digest = await digestFile(join(dir, 'f'));
      expect(digest.size).toBe(bytes.length);
      expect(digest.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      await expect(digestFile(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
