import { generateKeySecret, hashKeySecret, looksLikeKey, sameHash } from './key-secret';

describe('key secrets', () => {
  it('are 256 random bits, base64url, prefixed, and never repeat', () => {
    const secrets = new Set(Array.from({ length: 1000 }, generateKeySecret));
    expect(secrets.size).toBe(1000);
    for (const secret of [...secrets].slice(0, 10)) {
      expect(secret).toMatch(/^msk_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(secret.slice(4), 'base64url')).toHaveLength(32);
    }
  });

  it('are stored as SHA-256 and compared in constant time', () => {
    const secret = generateKeySecret();
    const hash = hashKeySecret(secret);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(sameHash(hash, hashKeySecret(secret))).toBe(true);
    expect(sameHash(hash, hashKeySecret(generateKeySecret()))).toBe(false);
    expect(sameHash(hash, 'abcd')).toBe(false);
  });

  it('rejects malformed presentations before any lookup', () => {
    expect(looksLikeKey('msk_short')).toBe(false);
    expect(looksLikeKey('has spaces in it but is long enough to pass')).toBe(false);
    expect(looksLikeKey('x'.repeat(600))).toBe(false);
    expect(looksLikeKey(generateKeySecret())).toBe(true);
  });
});
