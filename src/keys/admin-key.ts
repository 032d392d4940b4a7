import { existsSync, readFileSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config';
import { actionsOfRoles } from './actions';
import { Key } from './key.entity';
import { generateKeySecret, hashKeySecret } from './key-secret';
import { uuidv7 } from '../database/uuid';

/**
 * The provider's admin key: ADMIN_KEY when set (rotating it revokes the previous one and what was derived from
 * it); otherwise generated on the first start, printed once and written to var/admin.key (0600). An advisory
 * lock keeps concurrent starts from minting two.
 */
export async function ensureAdminKey(dataSource: DataSource, config: AppConfig, announce: (line: string) => void): Promise<void> {
  const file = join(config.varDir, 'admin.key');
  await dataSource.transaction(async (manager) => {
    await manager.query('SELECT pg_advisory_xact_lock(727275)');
    const active = await manager.getRepository(Key).createQueryBuilder('k').where('k.bootstrap = true AND k.revoked_at IS NULL').getMany();
    const insert = async (secret: string, label: string) =>
      manager.insert(Key, {
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
      });
    if (config.adminKey) {
      const hash = hashKeySecret(config.adminKey);
      if (active.some((key) => key.secretHash === hash)) return;
      for (const key of active) {
        await manager.query(
          `WITH RECURSIVE tree AS (SELECT id FROM key WHERE id = $1 UNION SELECT k.id FROM key k JOIN tree t ON k.parent_id = t.id)
           UPDATE key SET revoked_at = now() WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL`,
          [key.id],
        );
      }
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
