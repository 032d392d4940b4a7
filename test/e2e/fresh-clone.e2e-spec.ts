import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/processes';

/**
 * The README's start command on a fresh clone of HEAD, in a folder only its owner can enter (0700, like root's home
 * or `mktemp -d`): `npm ci && npm start` comes up ready, serves a real request, and stops cleanly on Ctrl-C; then the
 * test harness (embedded PostgreSQL run as the postgres user from the clone's node_modules) runs a suite from the
 * same 0700 folder. (The whole test command is proven by this very run; scripts/fresh-clone-check.sh without
 * --start-only runs it in the clone too, by hand.)
 */
const skip = process.env.MSERVE_SKIP_FRESH_CLONE === '1';
(skip ? describe.skip : describe)('fresh clone', () => {
  it(
    'npm ci && npm start comes up ready and stops on Ctrl-C, and the test harness runs, from a 0700 folder',
    () => {
      const result = spawnSync('bash', [join(ROOT, 'scripts', 'fresh-clone-check.sh'), '--start-only'], {
        encoding: 'utf8',
        timeout: 15 * 60 * 1000,
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      process.stdout.write(result.stdout + result.stderr);
      expect(result.stdout).toMatch(/fresh clone of \w+ in \S+ \(mode 700\)/);
      expect(result.stdout).toContain('the test harness works from the clone');
      expect(result.stdout).toContain('fresh-clone check passed');
      expect(result.status).toBe(0);
    },
    16 * 60 * 1000,
  );
});
