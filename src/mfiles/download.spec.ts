import { contentDisposition, etagMatches } from './content-headers';
import { parseSingleRange } from './download';

describe('download helpers', () => {
  it('parses single byte ranges as curl and browsers send them', () => {
    expect(parseSingleRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseSingleRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseSingleRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseSingleRange('bytes=50-500', 100)).toEqual({ start: 50, end: 99 });
    expect(parseSingleRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseSingleRange('bytes=-0', 100)).toBe('unsatisfiable');
    expect(parseSingleRange('bytes=5-1', 100)).toBe('unsatisfiable');
    expect(parseSingleRange('items=0-1', 100)).toBeUndefined();
    expect(parseSingleRange(undefined, 100)).toBeUndefined();
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
