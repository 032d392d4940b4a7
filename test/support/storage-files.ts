import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every regular file under a folder (relative paths), to check what is really on disk. */
export function filesUnder(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (statSync(path).isFile()) found.push(path.slice(root.length + 1));
    }
  };
  walk(root);
  return found.sort();
}
