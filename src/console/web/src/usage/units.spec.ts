import { bytesInput, parseByteRate, parseBytes, parseSeconds, secondsInput } from './units';

const value = (parsed: ReturnType<typeof parseBytes>) => (parsed.ok ? parsed.value : `error: ${parsed.error}`);

describe('parseBytes', () => {
  it.each([
    ['1048576', 1048576],
    ['0', 0],
    ['5 GiB', 5 * 1024 ** 3],
    ['5GiB', 5 * 1024 ** 3],
    ['5 gib', 5 * 1024 ** 3],
    ['5 Gi', 5 * 1024 ** 3],
    ['1.5 MiB', 1.5 * 1024 ** 2],
    ['.5 KiB', 512],
    ['500 MB', 500_000_000],
    ['2 TB', 2e12],
    ['1 PiB', 1024 ** 5],
    ['10 kB', 10_000],
    ['10 k', 10_000],
    ['12 B', 12],
    ['12 bytes', 12],
    ['  7 MiB  ', 7 * 1024 ** 2],
    ['1,048,576', 1048576],
    ['1 000 000', 1_000_000],
    ['1_000', 1000],
    ['1.1 KiB', 1126], // 1126.4 rounds to the nearest byte
  ])('%s → %d', (text, bytes) => {
    expect(value(parseBytes(text))).toBe(bytes);
  });

  it.each(['', '   ', 'none', 'Unlimited', 'no limit'])('"%s" means no limit', (text) => {
    expect(parseBytes(text)).toEqual({ ok: true, value: null });
  });

  it.each([
    ['-5 GiB', /not a size/],
    ['five', /not a size/],
    ['5 GiB 3', /not a size/],
    ['1,5 GiB', /not a size/],
    ['5 XB', /unknown unit "XB"/],
    ['5 GiB/s', /not a size/],
    ['9999999 PiB', /too large/],
    ['1e9', /not a size/],
  ])('%s is refused with a reason', (text, reason) => {
    const parsed = parseBytes(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(reason);
  });

  it('rates may end in /s or ps', () => {
    expect(value(parseByteRate('256 KiB/s'))).toBe(262144);
    expect(value(parseByteRate('10 MB / s'))).toBe(10_000_000);
    expect(value(parseByteRate('8 MBps'))).toBe(8_000_000);
    expect(value(parseByteRate('4096'))).toBe(4096);
    expect(parseByteRate('fast').ok).toBe(false);
  });
});

describe('bytesInput', () => {
  it.each([
    [5 * 1024 ** 3, '5 GiB'],
    [1.5 * 1024 ** 2, '1.5 MiB'],
    [1024, '1 KiB'],
    [1000, '1000'],
    [0, '0'],
    [5 * 1024 ** 2 + 1, '5242881'],
    [1024 ** 5 * 3, '3 PiB'],
  ])('%d → %s', (bytes, text) => {
    expect(bytesInput(bytes)).toBe(text);
  });

  it('is empty for no limit', () => {
    expect(bytesInput(null)).toBe('');
  });

  it('round-trips every value through parseBytes', () => {
    for (const bytes of [1, 1023, 1024, 1025, 1536, 1_000_000, 5 * 1024 ** 3, 5 * 1024 ** 3 + 7, 123_456_789_012, Number.MAX_SAFE_INTEGER]) {
      expect(value(parseBytes(bytesInput(bytes)))).toBe(bytes);
    }
  });
});

describe('parseSeconds and secondsInput', () => {
  it.each([
    ['3600', 3600],
    ['3600 s', 3600],
    ['90 min', 5400],
    ['10 h', 36_000],
    ['1.5 hours', 5400],
    ['2 d', 172_800],
    ['0.5 s', 0.5],
  ])('%s → %d s', (text, seconds) => {
    expect(value(parseSeconds(text))).toBe(seconds);
  });

  it('refuses what is not a duration', () => {
    expect(parseSeconds('10 GiB')).toMatchObject({ ok: false, error: expect.stringMatching(/unknown unit/) });
    expect(parseSeconds('soon')).toMatchObject({ ok: false });
    expect(parseSeconds('')).toEqual({ ok: true, value: null });
  });

  it('writes durations back in the largest whole unit, and round-trips', () => {
    expect(secondsInput(36_000)).toBe('10 h');
    expect(secondsInput(5400)).toBe('90 min');
    expect(secondsInput(86_400 * 3)).toBe('3 d');
    expect(secondsInput(61)).toBe('61 s');
    expect(secondsInput(null)).toBe('');
    for (const seconds of [1, 59, 60, 61, 3600, 5400, 86_400, 90_061, 0.25]) expect(value(parseSeconds(secondsInput(seconds)))).toBe(seconds);
  });
});
