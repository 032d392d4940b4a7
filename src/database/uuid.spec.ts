import { UUID_PATTERN, uuidv7 } from './uuid';

describe('uuidv7', () => {
  it('is a valid version-7 UUID that sorts by creation time', () => {
    const first = uuidv7(1_700_000_000_000);
    const second = uuidv7(1_700_000_000_001);
    expect(first).toMatch(UUID_PATTERN);
    expect(first[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(first[19]);
    expect(first < second).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => uuidv7(1)))).toHaveProperty('size', 1000);
  });
});
