import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResumableDigest } from './resumable-digest';

const expected = (bytes: Buffer) => ({ md5: createHash('md5').update(bytes).digest('hex'), sha256: createHash('sha256').update(bytes).digest('hex') });

describe('ResumableDigest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'resumable-digest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = randomBytes(3 * 1024 * 1024 + 17);
  const cut = [0, 1024 * 1024 + 5, 2 * 1024 * 1024 + 11, bytes.length];
  const none = { md5: null, sha256: null };

  /** Hashes `bytes` chunk by chunk; `between(offset)` runs before each chunk after the first (to lose the process). */
  async function upload(between: (id: string) => void) {
    const id = randomUUID();
    const partPath = join(dir, id);
    writeFileSync(partPath, bytes);
    let state: { md5: Buffer | null; sha256: Buffer | null } = none;
    let digest: ResumableDigest | undefined;
    const native: boolean[] = [];
    for (let i = 0; i < cut.length - 1; i++) {
      if (i > 0) between(id);
      digest = await ResumableDigest.resume({ id, offset: cut[i], state, partPath });
      digest.update(bytes.subarray(cut[i], cut[i + 1]));
      if (i < cut.length - 2) {
        state = digest.save(cut[i + 1]);
        native.push(state.md5 === null);
      }
    }
    return { digests: digest!.finish(), native };
  }

  it('hashes natively in one process: no state leaves it, the digests are right', async () => {
    const { digests, native } = await upload(() => undefined);
    expect(digests).toEqual(expected(bytes));
    expect(native).toEqual([true, true]);
  });

  it('a chunk in another process hashes the durable bytes again, then saves its state as before', async () => {
    const { digests, native } = await upload((id) => ResumableDigest.forget(id));
    expect(digests).toEqual(expected(bytes));
    // the first chunk was native; the second landed "elsewhere", rebuilt from the part file, and from then on the state is saved
    expect(native).toEqual([true, false]);
  });

  it('a chunk that failed leaves the saved native state as it was', async () => {
    const id = randomUUID();
    const partPath = join(dir, id);
    writeFileSync(partPath, bytes);
    const first = await ResumableDigest.resume({ id, offset: 0, state: none, partPath });
    first.update(bytes.subarray(0, cut[1]));
    first.save(cut[1]);
    const failed = await ResumableDigest.resume({ id, offset: cut[1], state: none, partPath });
    failed.update(randomBytes(1000)); // bytes that were then truncated away: never saved
    const retried = await ResumableDigest.resume({ id, offset: cut[1], state: none, partPath });
    retried.update(bytes.subarray(cut[1]));
    expect(retried.finish()).toEqual(expected(bytes));
  });

  it('an upload staged in the store (no part file) exports its state from the first chunk, each chunk continuing the saved one', async () => {
    const id = randomUUID();
    let state: { md5: Buffer | null; sha256: Buffer | null } = none;
    for (let i = 0; i < cut.length - 2; i++) {
      const digest = await ResumableDigest.resume({ id, offset: cut[i], state, partPath: null });
      digest.update(bytes.subarray(cut[i], cut[i + 1]));
      state = digest.save(cut[i + 1]);
      expect(state.md5).not.toBeNull();
      expect(state.sha256).not.toBeNull();
      ResumableDigest.forget(id);
    }
    const last = await ResumableDigest.resume({ id, offset: cut[cut.length - 2], state, partPath: null });
    last.update(bytes.subarray(cut[cut.length - 2]));
    expect(last.finish()).toEqual(expected(bytes));
    await expect(ResumableDigest.resume({ id, offset: 10, state: none, partPath: null })).rejects.toThrow(/no saved digest state/);
  });
});
