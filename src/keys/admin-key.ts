import { existsSync, readFileSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config';
import { actionsOfRoles } from './actions';
import { KeyRepository } from './key.repository';
import { generateKeySecret, hashKeySecret } from './key-secret';
import { uuidv7 } from '../database/uuid';

/**
 * The provider's admin key: ADMIN_KEY when set (rotating it revokes the previous one and what was derived from
 * it); otherwise generated on the first start, printed once and written to var/admin.key (0600). An advisory
 * lock keeps concurrent starts from minting two.
 */
export async function ensureAdminKey(dataSource: DataSource, config: AppConfig, announce: (line: string) => void): Promise<void> {
  const file = join(config.varDir, 'admin.key');
  const keys = new KeyRepository(dataSource);
  await dataSource.transaction(async (manager) => {
    await keys.lockAdminKeys(manager);
    const active = await keys.activeAdminKeys(manager);
    const insert = async (secret: string, label: string) =>
      keys.create(
        {
          id: uuidv7(),
          secretHash: hashKeySecret(secret),
          label,
          resourceType: 'provider',
          resourceId: null,
          containerId: null,
          serviceId: null,
          roles: ['admin'],
          actions: actionsOfRoles(['admin']),
          parentId: null,
          createdByKeyId: null,
          expiresAt: null,
          revokedAt: null,
          bootstrap: true,
        },
        manager,
      );
    if (config.adminKey) {
      const hash = hashKeySecret(config.adminKey);
      if (active.some((key) => key.secretHash === hash)) return;
      await keys.revokeTrees(
        active.map((key) => key.id),
        manager,
      );
      await insert(config.adminKey, 'provider admin (ADMIN_KEY)');
      announce(active.length ? 'ADMIN_KEY changed: the previous admin key and its sub-keys are revoked' : 'admin key set from ADMIN_KEY');
      return;
    }
    if (existsSync(file)) {
      const secret = readFileSync(file, 'utf8').trim();
      if (active.some((key) => key.secretHash === hashKeySecret(secret))) {
        announce(`admin key: in ${file}`);
        return;
      }
    }
    if (active.length > 0) {
      announce(`an admin key exists already but ${file} does not hold it: set ADMIN_KEY or copy admin.key from the first machine`);
      return;
    }
    const secret = generateKeySecret();
    await insert(secret, 'provider admin (generated)');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    announce(`generated the provider admin key (shown once, also saved to ${file}): ${secret}`);
  });
}
