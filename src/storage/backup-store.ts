import { createWriteStream } from 'node:fs';
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash, randomUUID } from 'node:crypto';
import { DigestingCounter, digestFile, KnownFolders, readWholeFile, translateStorageError } from './content-store';

/** Copies up to this size are made from one read into memory; larger ones stream. */
export const SMALL_COPY_BYTES = 256 * 1024;

/**
 * Verified copies of content, addressed by sha256 (`<backupDir>/ab/<sha256>`): the same bytes are kept once however
 * many Mfiles hold them. Written like the content store (temp, fsync, rename, fsync of the folder) and verified by
 * hashing what was written before it counts.
 */
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
      // the copy is fsynced by its writer (`flush`), checked against the recorded digest, then renamed into place
      const written = size !== undefined && size <= SMALL_COPY_BYTES ? await copySmall(source, temp) : await copyStreamed(source, temp);
      if (written.sha256 !== sha256) throw new SourceMismatch(`the stored bytes hash to ${written.sha256}, not the recorded ${sha256}: not backed up`);
      await this.folders.renameInto(folder, temp, target);
      return { created: !replacing, size: written.size };
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

/**
 * A small file (most of them) read whole and hashed once, written through one descriptor: the streams' objects and
 * buffers cost more than the bytes for a few KiB.
 */
async function copySmall(source: string, temp: string): Promise<{ sha256: string; size: number }> {
  const bytes = await readFile(source);
  await writeFile(temp, bytes, { flag: 'wx', flush: true });
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

/** A larger one streamed, hashed on the way. */
async function copyStreamed(source: string, temp: string): Promise<{ sha256: string; size: number }> {
  const counter = new DigestingCounter(Number.MAX_SAFE_INTEGER);
  await pipeline(await readWholeFile(source), counter, createWriteStream(temp, { flags: 'wx', flush: true }));
  return { sha256: counter.sha256.digest('hex'), size: counter.size };
}
