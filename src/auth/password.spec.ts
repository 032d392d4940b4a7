import { DUMMY_HASH, hashPassword, needsRehash, passwordProblem, verifyPassword } from './password';

describe('password hashing', () => {
  it('verifies the right password and refuses others', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^scrypt\$17\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    await expect(verifyPassword('correct horse battery', stored)).resolves.toBe(true);
    await expect(verifyPassword('correct horse batterY', stored)).resolves.toBe(false);
    await expect(verifyPassword('', stored)).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same password')).not.toBe(await hashPassword('same password'));
  });

  it('treats Unicode forms alike and refuses malformed hashes', async () => {
    const stored = await hashPassword('caf\u00e9 au lait!');
    await expect(verifyPassword('cafe\u0301 au lait!', stored)).resolves.toBe(true);
    await expect(verifyPassword('x', 'plain')).resolves.toBe(false);
    await expect(verifyPassword('x', DUMMY_HASH)).resolves.toBe(false);
  });

  it('asks for a rehash of weaker hashes and refuses parameters above ours', async () => {
    expect(needsRehash(await hashPassword('long enough pass'))).toBe(false);
    expect(needsRehash('scrypt$15$8$1$c2FsdA$aGFzaA')).toBe(true);
    expect(needsRehash('bcrypt$whatever')).toBe(true);
    // a stored hash cannot make us allocate more than our own parameters need
    await expect(verifyPassword('x', 'scrypt$22$8$1$c2FsdA$aGFzaA')).resolves.toBe(false);
  });

  it('says what a new password lacks', () => {
    expect(passwordProblem('short')).toMatch(/at least 10/);
    expect(passwordProblem('x'.repeat(1025))).toMatch(/at most 1024/);
    expect(passwordProblem('long enough pass')).toBeUndefined();
  });
});
