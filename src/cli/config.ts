import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What `mserve login` keeps: where MServe is and the key to present. */
export interface CliConfig {
  url?: string;
  key?: string;
}

/**
 * The CLI's own folder: `MSERVE_HOME`, else `$XDG_CONFIG_HOME/mserve`, else `~/.config/mserve`. It holds
 * `config.json` (the key: mode 0600, the folder 0700) and `uploads.json` (the tus upload URLs of unfinished uploads,
 * so that a second run resumes them).
 */
export function cliHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MSERVE_HOME) return env.MSERVE_HOME;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'mserve');
}

export function readConfig(home = cliHome()): CliConfig {
  try {
    return JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as CliConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`${join(home, 'config.json')} is not readable JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Writes the config atomically, readable by its owner only (it holds a key). */
export function writeConfig(config: CliConfig, home = cliHome()): string {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const path = join(home, 'config.json');
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
  return path;
}

export function forgetKey(home = cliHome()): void {
  const config = readConfig(home);
  if (Object.keys(config).length === 0) return;
  delete config.key;
  if (config.url) writeConfig(config, home);
  else rmSync(join(home, 'config.json'), { force: true });
}
