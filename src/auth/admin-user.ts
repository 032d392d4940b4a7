import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config';
import { uuidv7 } from '../database/uuid';
import { readOrCreateSecret } from '../infrastructure/secret-file';
import { hashPassword, verifyPassword } from './password';
import { User } from './user.entity';

/**
 * The provider administrator is a user holding the admin key. On every start: the ADMIN_USERNAME account exists
 * (password ADMIN_PASSWORD, else generated once into var/admin.password, 0600, and printed), and its wallet holds
 * the current admin key (after a rotation of ADMIN_KEY too).
 */
export async function ensureAdminUser(dataSource: DataSource, config: AppConfig, announce: (line: string) => void): Promise<void> {
  const file = join(config.varDir, 'admin.password');
  await dataSource.transaction(async (manager) => {
    await manager.query('SELECT pg_advisory_xact_lock(727276)');
    let user = await manager.getRepository(User).createQueryBuilder('u').addSelect('u.passwordHash').where('lower(u.username) = lower(:name)', { name: config.adminUsername }).getOne();
    if (!user) {
      const generated = !config.adminPassword && !existsSync(file);
      const password = config.adminPassword ?? readOrCreateSecret(file);
      user = manager.create(User, {
        id: uuidv7(),
        username: config.adminUsername,
        email: null,
        displayName: 'Provider administrator',
        passwordHash: await hashPassword(password),
        oidcIssuer: null,
        oidcSubject: null,
        disabled: false,
        lastLoginAt: null,
      });
      await manager.insert(User, user);
      announce(
        config.adminPassword
          ? `created the console user ${config.adminUsername} (password from ADMIN_PASSWORD)`
          : `created the console user ${config.adminUsername}; password${generated ? ' (shown once, also' : ' (in'} ${file}${generated ? `): ${password}` : ')'}`,
      );
    } else if (config.adminPassword && !(user.passwordHash && (await verifyPassword(config.adminPassword, user.passwordHash)))) {
      await manager.update(User, user.id, { passwordHash: await hashPassword(config.adminPassword) });
      announce(`ADMIN_PASSWORD changed: the password of ${config.adminUsername} is updated`);
    } else if (!config.adminPassword && existsSync(file)) {
      announce(`console user ${config.adminUsername}: password in ${file}`);
    }
    await manager.query(
      `INSERT INTO user_key (user_id, key_id) SELECT $1, id FROM key WHERE bootstrap AND revoked_at IS NULL ON CONFLICT DO NOTHING`,
      [user.id],
    );
  });
}

/** For the launcher's banner: the generated admin password, when there is one. */
export function generatedAdminPassword(config: AppConfig): string | undefined {
  const file = join(config.varDir, 'admin.password');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}
