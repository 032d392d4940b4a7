import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackupStore, SourceMismatch } from './backup-store';
import { ContentStore } from './content-store';

describe('FileBackupStore (real disk)', () => {
  let root: string;
  let store: FileBackupStore;
  let sources: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mserve-backup-'));
    sources = mkdtempSync(join(tmpdir(), 'mserve-backup-src-'));
    store = new FileBackupStore(join(root, 'backup'), new ContentStore(join(root, 'content')));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(sources, { recursive: true, force: true });
  });

  const source = (name: string, bytes: Buffer) => {
    const path = join(sources, name);
    writeFileSync(path, bytes);
    return { path, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  };
  /** Every file under the store, temp files included. */
  const files = () =>
    readdirSync(store.root, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name);

  // a small file is copied from one read; a large one streams (the size decides, when the caller knows it)
  for (const [what, bytes] of [
    ['small', Buffer.from('a few bytes\n'.repeat(10))],
    ['large', Buffer.alloc(600 * 1024, 7)],
  ] as const) {
    it(`keeps one verified copy of ${what} content, addressed by its sha256, and none again for the same bytes`, async () => {
      const one = source('one', bytes);
      expect(await store.putFile(one.path, one.sha256, one.size)).toEqual({ created: true, size: bytes.length });
      expect(readFileSync(store.pathOf(one.sha256)).equals(bytes)).toBe(true);
      const again = source('again', bytes);
      expect(await store.putFile(again.path, again.sha256, again.size)).toEqual({ created: false, size: bytes.length });
      expect(files()).toEqual([one.sha256]);
    });

    it(`refuses ${what} bytes that no longer hash to what was recorded, leaving nothing behind`, async () => {
      const changed = source('changed', bytes);
      writeFileSync(changed.path, Buffer.concat([bytes, Buffer.from('!')]));
      await expect(store.putFile(changed.path, changed.sha256, changed.size)).rejects.toBeInstanceOf(SourceMismatch);
      expect(files()).toEqual([]);
    });
  }

  it('replaces a damaged copy with a verified one (not counted as a new copy)', async () => {
    const one = source('one', Buffer.from('precious\n'));
    await store.putFile(one.path, one.sha256, one.size);
    writeFileSync(store.pathOf(one.sha256), 'rotten');
    expect(await store.putFile(one.path, one.sha256, one.size)).toEqual({ created: false, size: one.size });
    expect(readFileSync(store.pathOf(one.sha256), 'utf8')).toBe('precious\n');
  });
});
