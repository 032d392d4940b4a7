import { createWriteStream } from 'node:fs';
import { open, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash, randomUUID } from 'node:crypto';
import { DigestingCounter, digestFile, KnownFolders, readWholeFile, translateStorageError, WRITE_STREAM_FLUSHES } from './content-store';

/**
 * Verified copies of content, addressed by sha256 (`<backupDir>/ab/<sha256>`): the same bytes are kept once however
 * many Mfiles hold them. Written like the content store (temp, fsync, rename, fsync of the folder) and verified by
 * hashing what was written before it counts.
 */
/** Copies up to this size are made from one read into memory; larger ones stream. */
const SMALL_COPY_BYTES = 256 * 1024;

export class BackupStore {
  private readonly folders = new KnownFolders();

  constructor(readonly root: string) {}

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`invalid sha256 ${sha256}`);
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.pathOf(sha256)).then(
      () => true,
      () => false,
    );
  }

  /**
   * Copies `source` in unless a verified copy is there already. The copy must hash to `sha256`, else nothing is
   * kept and the error says the source does not match (it changed since it was recorded).
   */
  async put(source: string, sha256: string, size?: number): Promise<{ created: boolean; size: number }> {
    const target = this.pathOf(sha256);
    let replacing = false;
    if (await this.has(sha256)) {
      const existing = await digestFile(target);
      if (existing.sha256 === sha256) return { created: false, size: existing.size };
      await unlink(target); // a damaged copy is replaced (its place was counted already: not a new copy)
      replacing = true;
    }
    const folder = join(this.root, sha256.slice(0, 2));
    await this.folders.ensure(folder);
    const temp = join(folder, `.${randomUUID()}.tmp`);
    try {
      if (size !== undefined && size <= SMALL_COPY_BYTES && WRITE_STREAM_FLUSHES) {
        // a small file (most of them): read whole, hashed once, written and fsynced through one descriptor, without
        // the streams' objects and buffers (measured: a stream pair cost more than the bytes for a few KiB)
        const bytes = await readFile(source);
        const read = createHash('sha256').update(bytes).digest('hex');
        if (read !== sha256) throw new SourceMismatch(`the stored bytes hash to ${read}, not the recorded ${sha256}: not backed up`);
        await writeFile(temp, bytes, { flag: 'wx', flush: true });
        await this.folders.renameInto(folder, temp, target);
        const dir = await open(folder, 'r');
        await dir.sync().finally(() => dir.close());
        return { created: !replacing, size: bytes.length };
      }
      const counter = new DigestingCounter(Number.MAX_SAFE_INTEGER);
      await pipeline(await readWholeFile(source), counter, createWriteStream(temp, { flags: 'wx', flush: WRITE_STREAM_FLUSHES }));
      const written = counter.sha256.digest('hex');
      if (written !== sha256) throw new SourceMismatch(`the stored bytes hash to ${written}, not the recorded ${sha256}: not backed up`);
      if (!WRITE_STREAM_FLUSHES) {
        const handle = await open(temp, 'r+');
        await handle.sync().finally(() => handle.close());
      }
      await this.folders.renameInto(folder, temp, target);
      const dir = await open(folder, 'r');
      await dir.sync().finally(() => dir.close());
      return { created: !replacing, size: counter.size };
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error instanceof SourceMismatch ? error : translateStorageError(error);
    }
  }

  /** Removes a copy this process just made and could not account for (its job's outcome was not recorded). */
  async remove(sha256: string): Promise<void> {
    await unlink(this.pathOf(sha256)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

export class SourceMismatch extends Error {}
