import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_NAME_MAX_BYTES, FILE_NAME_REASONS, fileNameProblem, formatCharacterIn, normalizeName, unsafeNameReason, utf8ByteLength } from './file-name';

describe('fileNameProblem', () => {
  it.each([
    ['', 'empty'],
    ['x'.repeat(FILE_NAME_MAX_BYTES + 1), 'too-long'],
    ['€'.repeat(86), 'too-long'],
    ['😀'.repeat(64), 'too-long'],
    ['.', 'dot'],
    ['..', 'dot'],
    ['a/b', 'separator'],
    ['a\\b', 'separator'],
    ['../etc/passwd', 'separator'],
    ['nul\u0000', 'control'],
    ['tab\there', 'control'],
    ['line\nbreak', 'control'],
    ['del\u007f', 'control'],
    [' x', 'padded'],
    ['x ', 'padded'],
    ['x\u00a0', 'padded'],
    ['invoice\u202Efdp.exe', 'format'],
    ['a\u200Bb', 'format'],
    ['a\u200Db', 'format'],
    ['\uFEFFbom', 'format'],
    ['rtl\u2067x', 'format'],
    ['\u3000x', 'padded'],
  ] as const)('%j: %s', (name, problem) => {
    expect(fileNameProblem(name)).toBe(problem);
  });

  it('checks in a fixed order: the first problem is the one named', () => {
    expect(fileNameProblem(' ' + 'x'.repeat(255))).toBe('too-long');
    expect(fileNameProblem(' a/b ')).toBe('separator');
    expect(fileNameProblem(' \u0001 ')).toBe('control');
  });

  it('accepts any other Unicode name, up to the byte limit', () => {
    for (const name of [
      'photo.jpg',
      'Übersicht 100%.pdf',
      '日本語のファイル',
      'x'.repeat(255),
      '€'.repeat(85),
      '😀'.repeat(63),
      '.hidden',
      'a..b',
      '...',
      'a b',
      '\u0080 is not C0',
    ])
      expect(fileNameProblem(name)).toBeNull();
  });
});

describe('normalizeName and format characters (issue 16)', () => {
  it('takes names in NFC, so the two spellings of one name are one name', () => {
    expect(normalizeName('cafe\u0301.txt')).toBe('caf\u00e9.txt');
    expect(normalizeName('caf\u00e9.txt')).toBe('caf\u00e9.txt');
    expect(fileNameProblem(normalizeName('cafe\u0301.txt'))).toBeNull();
  });

  it('names the format character it refuses', () => {
    expect(formatCharacterIn('invoice\u202Efdp.exe')).toBe('U+202E');
    expect(formatCharacterIn('a\u200Bb')).toBe('U+200B');
    expect(formatCharacterIn('plain')).toBeNull();
    expect(unsafeNameReason('invoice\u202Efdp.exe')).toBe(`${FILE_NAME_REASONS.format}: U+202E`);
  });
});

describe('utf8ByteLength', () => {
  it('counts as Buffer.byteLength and TextEncoder do, lone surrogates included', () => {
    for (const text of [
      '',
      'a',
      'é',
      '€',
      '😀',
      'a😀b',
      '\ud800',
      '\udc00',
      '\ud800x',
      'x\udfff',
      '\udc00\ud800',
      '\ud83d\ude00\ud83d',
      '\u07ff\u0800\uffff',
    ]) {
      expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
      expect(utf8ByteLength(text)).toBe(new TextEncoder().encode(text).length);
    }
  });
});

describe('unsafeNameReason', () => {
  it('words each problem as the API does, and refuses what is not text', () => {
    expect(unsafeNameReason(42)).toBe('must be a string');
    expect(unsafeNameReason(null)).toBe('must be a string');
    expect(unsafeNameReason('..')).toBe(FILE_NAME_REASONS.dot);
    expect(unsafeNameReason('photo.jpg')).toBeNull();
  });
});

describe('the module', () => {
  it('stays Node-free: the console bundles it for the browser', () => {
    // eslint keeps server-only imports out (NODE_FREE_SHARED in eslint.config.mjs); this keeps Node globals out too
    const code = readFileSync(join(__dirname, 'file-name.ts'), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    expect(code).not.toMatch(/^\s*import\s/m);
    expect(code).not.toMatch(/\b(Buffer|process|require|TextEncoder)\b/);
  });
});
