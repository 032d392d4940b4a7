import { rmSync } from 'node:fs';
import { Infrastructure } from '../../src/infrastructure/infrastructure';

export default async function globalTeardown(): Promise<void> {
  const infrastructure = (globalThis as { __MSERVE_INFRA__?: Infrastructure }).__MSERVE_INFRA__;
  await infrastructure?.stop();
  if (process.env.VAR_DIR?.includes('mserve-test-')) rmSync(process.env.VAR_DIR, { recursive: true, force: true });
}
