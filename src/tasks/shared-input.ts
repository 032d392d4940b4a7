/** Inputs larger than this are never held in memory for sharing: each step reads them itself, as a lone job does. */
export const MAX_SHARED_INPUT_BYTES = 64 * 1024 * 1024;

/**
 * The one input of a batch (the steps of one pipeline run that a worker took together): its bytes read once, on first
 * use, and what the steps derive from them once (a sharp instance each image step clones), so `thumbnail`, `poster`,
 * `image-metadata`, `md5`, `sha256` and `mime` of one file read it once instead of once each.
 */
export class SharedInput {
  private bytes?: Promise<Buffer>;
  private readonly memos = new Map<string, unknown>();

  constructor(
    /** The Mfile whose bytes these are (a step on another input must not use them). */
    readonly mfileId: string,
    private readonly read: () => Promise<Buffer>,
    /** Every step of the batch on this input (its task and options), so a step can plan what the others need too. */
    readonly steps: ReadonlyArray<{ task: string; options: Record<string, unknown> }> = [],
  ) {}

  /** The input's bytes, read on the first call (a read that failed fails every step that asks, as its own read would). */
  content(): Promise<Buffer> {
    this.bytes ??= this.read();
    return this.bytes;
  }

  /** What `make` derives from the input, made once per batch under `key`. */
  memo<T>(key: string, make: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, make());
    return this.memos.get(key) as T;
  }
}
