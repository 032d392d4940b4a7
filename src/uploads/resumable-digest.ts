import { createMD5, createSHA256, IHasher } from 'hash-wasm';

/**
 * md5 + sha256 whose intermediate state can be saved to the database and loaded in another process: a resumable
 * upload is hashed exactly once, chunk by chunk, wherever each chunk lands. (Node's own hashes cannot export
 * their state; hash-wasm's can.)
 */
export class ResumableDigest {
  private constructor(
    private readonly md5: IHasher,
    private readonly sha256: IHasher,
  ) {}

  static async resume(state?: { md5: Buffer | null; sha256: Buffer | null }): Promise<ResumableDigest> {
    const [md5, sha256] = await Promise.all([createMD5(), createSHA256()]);
    if (state?.md5 && state.sha256) {
      md5.load(new Uint8Array(state.md5));
      sha256.load(new Uint8Array(state.sha256));
    } else {
      md5.init();
      sha256.init();
    }
    return new ResumableDigest(md5, sha256);
  }

  update(chunk: Uint8Array): void {
    this.md5.update(chunk);
    this.sha256.update(chunk);
  }

  save(): { md5: Buffer; sha256: Buffer } {
    return { md5: Buffer.from(this.md5.save()), sha256: Buffer.from(this.sha256.save()) };
  }

  /** Final digests (the state is consumed). */
  finish(): { md5: string; sha256: string } {
    return { md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}
