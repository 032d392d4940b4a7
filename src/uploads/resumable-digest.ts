import { createHash, Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createMD5, createSHA256, IHasher } from 'hash-wasm';

/** The saved state of an upload's digests: hash-wasm's exported state, or null when the bytes were hashed natively. */
export interface DigestState {
  md5: Buffer | null;
  sha256: Buffer | null;
}

/**
 * Where an upload stands: its id, how many bytes are hashed (its offset), its saved state and its part file; null
 * when its bytes are not on this node (staged in the store): then the state is always exported, from the first byte.
 */
export interface DigestOrigin {
  id: string;
  offset: number;
  state: DigestState;
  partPath: string | null;
}

interface Hashers {
  update(chunk: Uint8Array): void;
  finish(): { md5: string; sha256: string };
}

/** Node's own md5 and sha256 (native, several times faster than WebAssembly); their state cannot leave the process. */
class NativeHashers implements Hashers {
  constructor(
    readonly md5: Hash = createHash('md5'),
    readonly sha256: Hash = createHash('sha256'),
  ) {}

  update(chunk: Uint8Array): void {
    this.md5.update(chunk);
    this.sha256.update(chunk);
  }

  copy(): NativeHashers {
    return new NativeHashers(this.md5.copy(), this.sha256.copy());
  }

  finish() {
    return { md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}

/** hash-wasm's md5 and sha256, whose state can be saved to the database and loaded in another process. */
class WasmHashers implements Hashers {
  constructor(
    readonly md5: IHasher,
    readonly sha256: IHasher,
  ) {}

  static async create(state?: DigestState): Promise<WasmHashers> {
    const [md5, sha256] = await Promise.all([createMD5(), createSHA256()]);
    if (state?.md5 && state.sha256) {
      md5.load(new Uint8Array(state.md5));
      sha256.load(new Uint8Array(state.sha256));
    } else {
      md5.init();
      sha256.init();
    }
    return new WasmHashers(md5, sha256);
  }

  update(chunk: Uint8Array): void {
    this.md5.update(chunk);
    this.sha256.update(chunk);
  }

  finish() {
    return { md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}

/**
 * Native digests of uploads in progress in this process, by upload id, with the offset they cover: the next chunk of
 * the same upload continues them. Bounded (the oldest are forgotten first); one forgotten costs a re-read, not
 * correctness.
 */
const NATIVE_IN_PROGRESS = new Map<string, { offset: number; hashers: NativeHashers }>();
const MAX_NATIVE_IN_PROGRESS = 1024;

/**
 * md5 + sha256 of a resumable upload, hashed exactly once on the way in, chunk by chunk, wherever each chunk lands.
 *
 * The bytes are hashed with Node's native hashes whenever the upload's earlier bytes were hashed by this process (or
 * there are none): a tus upload sent in one PATCH, or in several to the same process, never pays for WebAssembly
 * (sha256 in hash-wasm runs at a fraction of the native speed, and the upload waits on it). Native state cannot be
 * exported, so between chunks it stays in this process (NATIVE_IN_PROGRESS) and the database keeps no state. A
 * chunk that lands elsewhere (another api process, a restart) finds no state: it hashes the part file's first
 * `offset` bytes once (they are durable: the offset moves only after the part file is fsynced), with hash-wasm, and
 * from then on the state is saved with every chunk, as before. An upload staged in the store (no part file: see
 * `AppendStage`) has nothing to hash again: it is hashed with hash-wasm from its first byte, its state saved with
 * every chunk.
 */
export class ResumableDigest {
  private constructor(
    private readonly id: string,
    private readonly hashers: NativeHashers | WasmHashers,
  ) {}

  static async resume(origin: DigestOrigin): Promise<ResumableDigest> {
    // a copy: the saved one stays valid until this chunk is saved (a chunk that fails keeps the offset it started at)
    const native = NATIVE_IN_PROGRESS.get(origin.id);
    if (native && native.offset === origin.offset) return new ResumableDigest(origin.id, native.hashers.copy());
    if (origin.state.md5 && origin.state.sha256) return new ResumableDigest(origin.id, await WasmHashers.create(origin.state));
    // with no part file to hash again, the next chunk may land anywhere: the state must leave the process every time
    if (origin.partPath === null) {
      if (origin.offset > 0) throw new Error(`upload ${origin.id} is at offset ${origin.offset} but has no saved digest state`);
      return new ResumableDigest(origin.id, await WasmHashers.create());
    }
    if (origin.offset === 0) return new ResumableDigest(origin.id, new NativeHashers());
    // the earlier bytes were hashed natively in another process (or one that stopped): hash them again from the part file
    const hashers = await WasmHashers.create();
    for await (const chunk of createReadStream(origin.partPath, { start: 0, end: origin.offset - 1, highWaterMark: 1024 * 1024 }))
      hashers.update(chunk as Buffer);
    return new ResumableDigest(origin.id, hashers);
  }

  update(chunk: Uint8Array): void {
    this.hashers.update(chunk);
  }

  /** The state to save with the upload's new offset (null when it stays in this process, see NATIVE_IN_PROGRESS). */
  save(offset: number): DigestState {
    if (this.hashers instanceof WasmHashers) return { md5: Buffer.from(this.hashers.md5.save()), sha256: Buffer.from(this.hashers.sha256.save()) };
    NATIVE_IN_PROGRESS.delete(this.id);
    NATIVE_IN_PROGRESS.set(this.id, { offset, hashers: this.hashers.copy() });
    if (NATIVE_IN_PROGRESS.size > MAX_NATIVE_IN_PROGRESS) NATIVE_IN_PROGRESS.delete(NATIVE_IN_PROGRESS.keys().next().value!);
    return { md5: null, sha256: null };
  }

  /** Final digests (the state is consumed, and forgotten). */
  finish(): { md5: string; sha256: string } {
    NATIVE_IN_PROGRESS.delete(this.id);
    return this.hashers.finish();
  }

  /** Forgets an upload's native state (it was terminated or expired). */
  static forget(id: string): void {
    NATIVE_IN_PROGRESS.delete(id);
  }
}
