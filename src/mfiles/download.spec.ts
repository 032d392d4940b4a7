import { contentDisposition, etagMatches, isActiveContent } from './content-headers';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { coalesceRanges, parseRanges, RANGE_LIMITS, reprDigest, ThrottleTransform } from './download';

describe('download helpers', () => {
  it('parses single byte ranges as curl and browsers send them', () => {
    expect(parseRanges('bytes=0-9', 100)).toEqual([{ start: 0, end: 9 }]); // curl -r 0-9
    expect(parseRanges('bytes=90-', 100)).toEqual([{ start: 90, end: 99 }]); // curl -C - / a video seek
    expect(parseRanges('bytes=0-', 100)).toEqual([{ start: 0, end: 99 }]); // a browser starting a media element
    expect(parseRanges('bytes=-10', 100)).toEqual([{ start: 90, end: 99 }]);
    expect(parseRanges('bytes=-500', 100)).toEqual([{ start: 0, end: 99 }]); // a suffix longer than the file is all of it
    expect(parseRanges('bytes=50-500', 100)).toEqual([{ start: 50, end: 99 }]);
    expect(parseRanges('Bytes = 3-4', 100)).toEqual([{ start: 3, end: 4 }]); // the unit is case-insensitive
    expect(parseRanges(undefined, 100)).toBeUndefined();
    expect(parseRanges('', 100)).toBeUndefined();
  });

  it('answers unsatisfiable only when no range overlaps the content', () => {
    expect(parseRanges('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRanges('bytes=-0', 100)).toBe('unsatisfiable');
    expect(parseRanges('bytes=100-200,300-', 100)).toBe('unsatisfiable');
    expect(parseRanges('bytes=0-1', 0)).toBe('unsatisfiable');
    expect(parseRanges('bytes=-5', 0)).toBe('unsatisfiable');
    // unsatisfiable specs next to satisfiable ones are dropped
    expect(parseRanges('bytes=200-300,0-1', 100)).toEqual([{ start: 0, end: 1 }]);
  });

  it('ignores malformed Range headers (the whole representation is sent)', () => {
    for (const header of [
      'items=0-1',
      'bytes=',
      'bytes=-',
      'bytes=a-b',
      'bytes=1-2-3',
      'bytes=0-9;x',
      'bytes 0-9',
      'bytes=5-1',
      'bytes=0-9,5-1',
      'bytes=0-9,x',
      'bytes=,',
      'bytes=1 - 2',
      'bytes=+1-2',
      'bytes=0x1-2',
    ]) {
      expect([header, parseRanges(header, 100)]).toEqual([header, undefined]);
    }
  });

  it('parses several ranges, in the order asked, tolerating empty list elements', () => {
    expect(parseRanges('bytes=0-9,20-29,-5', 100)).toEqual([
      { start: 0, end: 9 },
      { start: 20, end: 29 },
      { start: 95, end: 99 },
    ]);
    expect(parseRanges('bytes=50-59, 0-9', 100)).toEqual([
      { start: 50, end: 59 },
      { start: 0, end: 9 },
    ]);
    expect(parseRanges('bytes=0-1,,5-6,', 100)).toEqual([
      { start: 0, end: 1 },
      { start: 5, end: 6 },
    ]);
    expect(parseRanges('bytes=0-9,95-200', 100)).toEqual([
      { start: 0, end: 9 },
      { start: 95, end: 99 },
    ]);
  });

  it('coalesces overlapping and adjacent ranges, keeping the order of first appearance', () => {
    expect(parseRanges('bytes=0-9,5-14', 100)).toEqual([{ start: 0, end: 14 }]);
    expect(parseRanges('bytes=0-9,10-19', 100)).toEqual([{ start: 0, end: 19 }]); // adjacent
    expect(parseRanges('bytes=0-9,11-19', 100)).toEqual([
      { start: 0, end: 9 },
      { start: 11, end: 19 },
    ]); // a gap of one byte stays two parts
    expect(parseRanges('bytes=80-89,0-4,85-95,3-7', 100)).toEqual([
      { start: 80, end: 95 },
      { start: 0, end: 7 },
    ]);
    expect(parseRanges('bytes=-10,90-99', 100)).toEqual([{ start: 90, end: 99 }]);
    expect(parseRanges('bytes=0-,-1', 100)).toEqual([{ start: 0, end: 99 }]);
    expect(
      coalesceRanges([
        { start: 5, end: 5 },
        { start: 4, end: 4 },
        { start: 6, end: 6 },
      ]),
    ).toEqual([{ start: 4, end: 6 }]);
    expect(
      coalesceRanges([
        { start: 0, end: 50 },
        { start: 10, end: 20 },
      ]),
    ).toEqual([{ start: 0, end: 50 }]);
    expect(coalesceRanges([])).toEqual([]);
  });

  it('ignores abusive Range headers: too many ranges, or more than twice the size in total', () => {
    expect(RANGE_LIMITS).toEqual({ maxRanges: 50, maxTotalFactor: 2 });
    const ranges = (count: number) => `bytes=${Array.from({ length: count }, (_, i) => `${i * 10}-${i * 10 + 4}`).join(',')}`;
    expect(parseRanges(ranges(50), 1000)).toHaveLength(50);
    expect(parseRanges(ranges(51), 1000)).toBeUndefined();
    // 51 tiny specs that would coalesce into one are still too many
    expect(parseRanges(`bytes=${Array.from({ length: 51 }, (_, i) => `${i}-${i}`).join(',')}`, 1000)).toBeUndefined();
    expect(parseRanges('bytes=0-,0-', 100)).toEqual([{ start: 0, end: 99 }]); // exactly 2x: allowed, coalesced
    expect(parseRanges('bytes=0-,0-,0-0', 100)).toBeUndefined(); // 201 bytes of a 100-byte file
    expect(parseRanges('bytes=0-,-100,50-', 100)).toBeUndefined();
    expect(parseRanges('bytes=0-99999999999999999999', 100)).toEqual([{ start: 0, end: 99 }]);
  });

  it('Repr-Digest is the base64 of the sha-256 (RFC 9530)', () => {
    const hash = createHash('sha256').update('hello').digest();
    expect(reprDigest(hash.toString('hex'))).toBe(`sha-256=:${hash.toString('base64')}:`);
    expect(reprDigest('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toBe('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:');
    expect(reprDigest('not-hex')).toBeUndefined();
  });

  it('throttles a stream with a token bucket: the burst at once, then the rate, bytes unchanged', async () => {
    const input = Buffer.alloc(96 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7) % 251;
    const chunks: Buffer[] = [];
    let maxSlice = 0;
    const started = performance.now();
    await pipeline(
      Readable.from([input.subarray(0, 50_000), input.subarray(50_000)]),
      new ThrottleTransform(64 * 1024, 32 * 1024),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          maxSlice = Math.max(maxSlice, chunk.length);
          callback();
        },
      }),
    );
    const elapsed = performance.now() - started;
    expect(Buffer.concat(chunks).equals(input)).toBe(true);
    expect(maxSlice).toBeLessThanOrEqual(32 * 1024);
    // 96 KiB with a 32 KiB burst at 64 KiB/s: at least (96 - 32) / 64 = 1 s
    expect(elapsed).toBeGreaterThanOrEqual(950);
  });

  it('a destroyed throttle stops waiting', async () => {
    const throttle = new ThrottleTransform(1024, 1024);
    throttle.write(Buffer.alloc(10 * 1024));
    throttle.resume();
    await new Promise((resolve) => setTimeout(resolve, 20));
    throttle.destroy();
    await new Promise((resolve) => throttle.once('close', resolve));
    expect(throttle.destroyed).toBe(true);
  });

  it('encodes file names per RFC 6266 with an ASCII fallback', () => {
    expect(contentDisposition('a b.txt')).toBe(`inline; filename="a b.txt"; filename*=UTF-8''a%20b.txt`);
    expect(contentDisposition('"quote"\\.txt', 'attachment')).toBe(`attachment; filename="_quote__.txt"; filename*=UTF-8''%22quote%22%5C.txt`);
  });

  it('matches ETag lists, weak forms only where allowed', () => {
    expect(etagMatches('"a", "b"', '"b"')).toBe(true);
    expect(etagMatches('W/"b"', '"b"')).toBe(true);
    expect(etagMatches('W/"b"', '"b"', false)).toBe(false);
    expect(etagMatches('*', '"b"')).toBe(true);
    expect(etagMatches(undefined, '"b"')).toBe(false);
  });
});

describe('active content', () => {
  it('serves what a browser would run as an attachment, media inline', () => {
    for (const type of [
      'text/html',
      'text/html; charset=utf-8',
      'image/svg+xml',
      'application/xhtml+xml',
      'text/xml',
      'application/xml',
      'application/rss+xml',
      'text/javascript',
      'application/javascript',
    ]) {
      expect([type, isActiveContent(type)]).toEqual([type, true]);
    }
    for (const type of [
      'image/jpeg',
      'image/png',
      'video/mp4',
      'audio/mpeg',
      'text/plain',
      'application/pdf',
      'application/octet-stream',
      'application/json',
    ]) {
      expect([type, isActiveContent(type)]).toEqual([type, false]);
    }
  });
});
