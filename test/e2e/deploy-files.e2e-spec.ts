import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/processes';

/**
 * What can be checked of deploy/ without a container runtime: the image creates and owns every folder the compose
 * file mounts into the app containers or points a *_DIR variable at, and the guide and .env.example name every
 * variable compose refuses to start without. (Building the image and running the stack need Docker.)
 */
const read = (name: string) => readFileSync(join(ROOT, 'deploy', name), 'utf8');

describe('deploy files', () => {
  const dockerfile = read('Dockerfile');
  const compose = read('docker-compose.yml');

  it('the image creates, and gives the user node, every folder compose mounts or names for the app', () => {
    const app = compose.slice(compose.indexOf('x-mserve-app:'), compose.indexOf('\nservices:'));
    const mounted = [...app.matchAll(/^\s+- [\w-]+:(\/data\/[\w/-]+)\s*$/gm)].map((match) => match[1]);
    const named = [...app.matchAll(/^\s+\w+_DIR: (\/data\/[\w/-]+)\s*$/gm)].map((match) => match[1]);
    expect(mounted).toEqual(expect.arrayContaining(['/data/storage', '/data/backup']));
    const mkdir = dockerfile.match(/RUN mkdir -p ([^&\n]+)&& chown -R node:node \/data\b/);
    expect(mkdir).not.toBeNull();
    const created = mkdir![1].trim().split(/\s+/);
    for (const folder of new Set([...mounted, ...named])) expect({ folder, created: created.includes(folder) }).toEqual({ folder, created: true });
    // the image's own defaults agree with compose
    for (const variable of ['STORAGE_DIR', 'VAR_DIR', 'BACKUP_DIR']) expect(dockerfile).toMatch(new RegExp(`${variable}=/data/`));
  });

  it('the guide and .env.example list every variable compose requires', () => {
    const required = new Set([...compose.matchAll(/\$\{(\w+):\?/g)].map((match) => match[1]));
    expect([...required].sort()).toEqual(['ADMIN_KEY', 'ADMIN_PASSWORD', 'POSTGRES_PASSWORD', 'PUBLIC_URL', 'REDIS_PASSWORD', 'SESSION_SECRET']);
    const guide = read('README.md');
    const example = read('.env.example');
    for (const variable of required) {
      expect({ variable, inGuide: guide.includes(variable) }).toEqual({ variable, inGuide: true });
      expect({ variable, inExample: new RegExp(`^${variable}=`, 'm').test(example) }).toEqual({ variable, inExample: true });
    }
    expect(guide).not.toMatch(/three secrets/);
  });
});
