/** S3's smallest part of a multipart upload (every part but the last); the tail of a staged upload stays below it. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

/** S3's most parts in one multipart upload. */
export const MAX_PARTS = 10_000;

/**
 * Gathers a stream's chunks into parts of exactly `partBytes` (the last bytes stay until {@link rest}): a staged
 * upload's parts are cut the same wherever the chunks of the client begin and end.
 */
export class PartCutter {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(readonly partBytes: number) {
    if (partBytes < MIN_PART_BYTES) throw new Error(`a part of ${partBytes} bytes is below S3's minimum of ${MIN_PART_BYTES}`);
  }

  /** Bytes held, less than a part. */
  get pending(): number {
    return this.bytes;
  }

  /** Takes `chunk`; returns the parts it completed, each of `partBytes`, in order. */
  push(chunk: Buffer): Buffer[] {
    const parts: Buffer[] = [];
    let left = chunk;
    while (this.bytes + left.length >= this.partBytes) {
      const take = this.partBytes - this.bytes;
      parts.push(Buffer.concat([...this.chunks, left.subarray(0, take)], this.partBytes));
      this.chunks = [];
      this.bytes = 0;
      left = left.subarray(take);
    }
    if (left.length) {
      this.chunks.push(left);
      this.bytes += left.length;
    }
    return parts;
  }

  /** The bytes held (less than a part), in one buffer. */
  rest(): Buffer {
    return Buffer.concat(this.chunks, this.bytes);
  }
}

/** Where the rest of a chunk goes when the upload is not complete: a part when S3 takes it as one, else the tail. */
export function restGoesTo(restBytes: number): 'part' | 'tail' {
  return restBytes >= MIN_PART_BYTES ? 'part' : 'tail';
}
