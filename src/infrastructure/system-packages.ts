import { execFileSync, spawnSync } from 'node:child_process';

/** Finds an executable on PATH; undefined when absent. */
export function findExecutable(name: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const found = result.stdout.trim();
  return result.status === 0 && found ? found : undefined;
}

/**
 * Makes sure a Debian package providing `executable` is installed. Installs it when we are root and apt-get
 * exists; otherwise throws a message that says exactly what to install.
 */
export function ensureDebianPackage(executable: string, packageName: string, log: (line: string) => void): string {
  const existing = findExecutable(executable);
  if (existing) return existing;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !findExecutable('apt-get')) {
    throw new Error(
      `${executable} is not installed. Install it with: sudo apt-get install -y ${packageName}` +
        ` (or point MServe at an existing service through its URL setting).`,
    );
  }
  log(`${executable} is missing: installing the Debian package ${packageName}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', packageName], { env, stdio: 'ignore' });
  if (install().status !== 0) {
    execFileSync('apt-get', ['update'], { env, stdio: 'ignore' });
    if (install().status !== 0) throw new Error(`apt-get install -y ${packageName} failed; install it by hand.`);
  }
  const installed = findExecutable(executable);
  if (!installed) throw new Error(`${packageName} was installed but ${executable} is still not on PATH.`);
  return installed;
}
