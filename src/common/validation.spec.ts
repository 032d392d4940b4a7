import { unsafeNameReason } from './validation';

describe('unsafeNameReason', () => {
  it.each([
    ['../etc/passwd', 'must not contain / or \\'],
    ['..', 'must not be . or ..'],
    ['a\\b', 'must not contain / or \\'],
    ['nul\u0000', 'must not contain NUL or control characters'],
    ['x'.repeat(256), 'must be at most 255 bytes of UTF-8'],
    ['€'.repeat(86), 'must be at most 255 bytes of UTF-8'],
    ['', 'must not be empty'],
    [' x', 'must not start or end with whitespace'],
  ])('%j is refused: %s', (name, reason) => {
    expect(unsafeNameReason(name)).toBe(reason);
  });

  it('accepts any other Unicode name', () => {
    for (const name of ['photo.jpg', 'Übersicht 100%.pdf', '日本語のファイル', 'x'.repeat(255), '€'.repeat(85), '.hidden', 'a..b']) expect(unsafeNameReason(name)).toBeNull();
  });
});
