import { randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';
import { ProblemError } from '../common/problem';

/**
 * Passwords are hashed with scrypt (memory-hard; in Node's crypto, so no native add-on): N = 2^15, r = 8, p = 1
 * (32 MiB, ~0.1 s on a server core), 16-byte salt, 32-byte hash, stored with their parameters so they can be raised
 * later: `scrypt$15$8$1$<salt>$<hash>` (base64url).
 */
const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

/**
 * At most two hashes at a time: each holds a libuv thread (~0.1 s, 32 MiB), and file reads and new database
 * connections share those four threads. A flood of logins waits its turn (64 at most), then gets a 503.
 */
const MAX_RUNNING = 2;
const MAX_WAITING = 64;
let running = 0;
const waiting: Array<() => void> = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_RUNNING) {
    if (waiting.length >= MAX_WAITING)
      throw new ProblemError(503, 'busy', 'Service Unavailable', 'too many password checks at once: try again in a moment', { retryAfterSeconds: 1 });
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  running += 1;
  try {
    return await work();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r };
  return limited(
    () =>
      new Promise((resolve, reject) => scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, LOG_N, R, P);
  return `scrypt$${LOG_N}$${R}$${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Same work whether or not the stored hash exists: callers pass DUMMY_HASH for unknown users. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), Number(logN), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Checked against when the user does not exist, so a wrong name costs what a wrong password costs. */
export const DUMMY_HASH = `scrypt$${LOG_N}$${R}$${P}$${randomBytes(16).toString('base64url')}$${randomBytes(KEY_LENGTH).toString('base64url')}`;

/** What a new password must be: long enough, not absurdly long (scrypt hashes any length, but bodies are bounded). */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 10) return 'a password needs at least 10 characters';
  if (password.length > 1024) return 'a password may have at most 1024 characters';
  return undefined;
}
