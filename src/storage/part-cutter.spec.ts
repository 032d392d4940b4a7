import { randomBytes } from 'node:crypto';
import { MIN_PART_BYTES, PartCutter, restGoesTo } from './part-cutter';

describe('PartCutter', () => {
  const PART = MIN_PART_BYTES + 3;

  /** Feeds `bytes` in chunks of the given sizes; returns the parts cut and the rest. */
  function cut(bytes: Buffer, sizes: number[]) {
    const cutter = new PartCutter(PART);
    const parts: Buffer[] = [];
    let at = 0;
    for (const size of sizes) {
      parts.push(...cutter.push(bytes.subarray(at, at + size)));
      at += size;
    }
    return { parts, rest: cutter.rest(), pending: cutter.pending };
  }

  it('cuts parts of exactly the part size, in order, wherever the chunks begin and end; the rest stays', () => {
    const bytes = randomBytes(3 * PART + 1234);
    for (const sizes of [[bytes.length], [1, PART - 1, 1, 2 * PART, 1233], [PART, PART, PART, 1234], [7, 3 * PART + 1227]]) {
      const { parts, rest, pending } = cut(bytes, sizes);
      expect(parts.map((part) => part.length)).toEqual([PART, PART, PART]);
      expect(Buffer.concat([...parts, rest]).equals(bytes)).toBe(true);
      expect(rest.length).toBe(1234);
      expect(pending).toBe(1234);
    }
  });

  it('keeps a chunk smaller than a part whole, and an empty chunk changes nothing', () => {
    const cutter = new PartCutter(PART);
    expect(cutter.push(Buffer.alloc(0))).toEqual([]);
    expect(cutter.push(Buffer.from('abc'))).toEqual([]);
    expect(cutter.rest().toString()).toBe('abc');
  });

  it('refuses a part size below S3 minimum', () => {
    expect(() => new PartCutter(MIN_PART_BYTES - 1)).toThrow(/below S3's minimum/);
  });

  it('sends a rest of 5 MiB or more as a part, keeps a smaller one as the tail', () => {
    expect(restGoesTo(MIN_PART_BYTES)).toBe('part');
    expect(restGoesTo(MIN_PART_BYTES - 1)).toBe('tail');
    expect(restGoesTo(0)).toBe('tail');
  });
});
