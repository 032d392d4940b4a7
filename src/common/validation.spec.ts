import { freeFormPropertiesProblem, unsafeNameReason } from './validation';

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
    for (const name of ['photo.jpg', 'Übersicht 100%.pdf', '日本語のファイル', 'x'.repeat(255), '€'.repeat(85), '.hidden', 'a..b'])
      expect(unsafeNameReason(name)).toBeNull();
  });
});

describe('freeFormPropertiesProblem', () => {
  const deep = (levels: number) => {
    let node: Record<string, unknown> = { leaf: 1 };
    for (let level = 1; level < levels; level += 1) node = { next: node };
    return node;
  };

  it.each([
    ['null', 'must be a JSON object', null],
    ['an array', 'must be a JSON object', [1, 2]],
    ['a string', 'must be a JSON object', 'text'],
    ['an empty name', 'must not have an empty property name', { '': 1 }],
    ['a 256-character name', 'must have property names of at most 255 characters', { ['k'.repeat(256)]: 1 }],
    ['NUL in a value', 'must not contain NUL characters', { note: 'a\u0000b' }],
    ['NUL in a nested name', 'must not contain NUL characters', { list: [{ ['bad\u0000name']: true }] }],
    ['an unpaired surrogate in a value', 'must not contain unpaired UTF-16 surrogates', { note: 'a\ud800' }],
    ['an unpaired low surrogate in a name', 'must not contain unpaired UTF-16 surrogates', { nested: { ['\udc00x']: 1 } }],
    ['17 levels', 'must be nested at most 16 levels deep', deep(17)],
    ['64 KiB + 10 bytes', `must be at most 65536 bytes as JSON (is ${64 * 1024 + 10})`, { big: 'x'.repeat(64 * 1024) }],
  ])('%s is refused: %s', (_label, reason, value) => {
    expect(freeFormPropertiesProblem(value)).toBe(reason);
  });

  it('accepts objects of any JSON values within the limits', () => {
    for (const value of [
      {},
      { emoji: '😀 in a pair' },
      { department: 'news', costCentre: 4711, archived: false, tags: ['a', 'b'], owner: { name: 'Ana' }, none: null },
      deep(16),
      { text: '€'.repeat(21_000) },
    ]) {
      expect(freeFormPropertiesProblem(value)).toBeNull();
    }
  });
});
