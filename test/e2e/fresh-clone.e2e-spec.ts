import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/processes';

/**
 * The README's start command on a fresh clone of HEAD: `npm ci && npm start` comes up ready, serves a real request,
 * and stops cleanly on Ctrl-C. (The test command is proven by this very run; scripts/fresh-clone-check.sh without
 * --start-only runs it too, by hand.)
 */
const skip = process.env.MSERVE_SKIP_FRESH_CLONE === '1';
(skip ? describe.skip : describe)('fresh clone', () => {
  it(
    'npm ci && npm start comes up ready and stops on Ctrl-C',
    () => {
      const result = spawnSync('bash', [join(ROOT, 'scripts', 'fresh-clone-check.sh'), '--start-only'], {
        encoding: 'utf8',
        timeout: 15 * 60 * 1000,
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      process.stdout.write(result.stdout + result.stderr);
      expect(result.stdout).toContain('fresh-clone check passed');
      expect(result.status).toBe(0);
    },
    16 * 60 * 1000,
  );
});
