import { randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';
import { ProblemError } from '../common/problem';

/**
 * Passwords are hashed with scrypt (memory-hard; in Node's crypto, so no native add-on) at OWASP's minimum: N = 2^17,
 * r = 8, p = 1 (128 MiB, ~0.3–0.5 s on a server core), 16-byte salt, 32-byte hash, stored with their parameters so
 * they can be raised: `scrypt$17$8$1$<salt>$<hash>` (base64url). A hash made with weaker parameters (N = 2^15 before
 * issue 16) still verifies, and is replaced on the next successful login (`needsRehash`).
 */
const LOG_N = 17;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

/**
 * At most two hashes at a time: each holds a libuv thread (~0.4 s, 128 MiB), and file reads and new database
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

/** Parameters we accept from a stored hash: at most ours (a stored hash cannot make us allocate more). */
function parameters(logN: number, r: number, p: number): boolean {
  return Number.isInteger(logN) && Number.isInteger(r) && Number.isInteger(p) && logN >= 10 && logN <= LOG_N && r >= 1 && r <= R && p >= 1 && p <= P;
}

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes (128 MiB at N = 2^17, r = 8); Node's default maxmem is 32 MiB
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 128 * 2 ** logN * r + 1024 * 1024 };
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
  if (scheme !== 'scrypt' || !salt || !hash || !parameters(Number(logN), Number(r), Number(p))) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), Number(logN), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Whether a stored hash was made with weaker parameters than new hashes get (then rehash it once it verified). */
export function needsRehash(stored: string): boolean {
  const [scheme, logN, r, p] = stored.split('$');
  return scheme !== 'scrypt' || Number(logN) < LOG_N || Number(r) < R || Number(p) < P;
}

/** Checked against when the user does not exist, so a wrong name costs what a wrong password costs. */
export const DUMMY_HASH = `scrypt$${LOG_N}$${R}$${P}$${randomBytes(16).toString('base64url')}$${randomBytes(KEY_LENGTH).toString('base64url')}`;

/** What a new password must be: long enough, not absurdly long (scrypt hashes any length, but bodies are bounded). */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 10) return 'a password needs at least 10 characters';
  if (password.length > 1024) return 'a password may have at most 1024 characters';
  return undefined;
}
