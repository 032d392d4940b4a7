import { ProblemError } from './problem';
import { decodeCursor, decodeIdCursor, encodeCursor } from './pagination';

const refused = (fn: () => unknown) => {
  try {
    fn();
    return 'taken';
  } catch (error) {
    return error instanceof ProblemError ? `${error.status} ${error.detail}` : `threw ${String(error)}`;
  }
};

describe('cursors', () => {
  const id = '01a24947-8443-712f-846e-041daf67e6bb';

  it('round-trip the sort key they were made from', () => {
    expect(decodeIdCursor(encodeCursor([id]))).toBe(id);
    expect(decodeCursor(encodeCursor(['Übersicht 😀.txt', id]), ['text', 'uuid'])).toEqual(['Übersicht 😀.txt', id]);
    expect(decodeIdCursor(undefined)).toBeNull();
  });

  it('refuse with a 400 anything that does not have the shape of the list, before it reaches PostgreSQL', () => {
    // found by review: 36 dashes passed the old /^[0-9a-f-]{36}$/ check, and objects or NUL went to the database
    const forged = [['-'.repeat(36)], ['0'.repeat(36)], [{}], [['x']], ['x'], [id, id], [], [null], [42]];
    for (const values of forged)
      expect([values, refused(() => decodeIdCursor(encodeCursor(values)))]).toEqual([values, '400 cursor is not one this server issued']);
    for (const values of [['a\u0000', id], ['\ud800', id], ['x'.repeat(1025), id], [id], [1, id]]) {
      expect([values, refused(() => decodeCursor(encodeCursor(values), ['text', 'uuid']))]).toEqual([values, '400 cursor is not one this server issued']);
    }
    for (const text of ['fuzz-1', '%%%', Buffer.from('{"a":1}').toString('base64url')])
      expect(refused(() => decodeIdCursor(text))).toBe('400 cursor is not one this server issued');
  });
});
