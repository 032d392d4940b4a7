import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_PREFIX = 'msk_';
const SECRET_PATTERN = /^msk_[A-Za-z0-9_-]{43}$/;
/** Admins may bring their own ADMIN_KEY; it only has to be long. */
const ANY_SECRET_PATTERN = /^[\x21-\x7e]{32,512}$/;

/** 256 bits from the CSPRNG, base64url, with a recognisable prefix so secret scanners can spot leaks. */
export function generateKeySecret(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashKeySecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function looksLikeKey(secret: string): boolean {
  return SECRET_PATTERN.test(secret) || ANY_SECRET_PATTERN.test(secret);
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
