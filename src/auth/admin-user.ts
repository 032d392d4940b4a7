import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config';
import { uuidv7 } from '../database/uuid';
import { readOrCreateSecret } from '../infrastructure/secret-file';
import { hashPassword, verifyPassword } from './password';
import { UserRepository } from './user.repository';

/**
 * The provider administrator is a user holding the admin key. On every start: the ADMIN_USERNAME account exists
 * (password ADMIN_PASSWORD, else generated once into var/admin.password, 0600, and printed), and its wallet holds
 * the current admin key (after a rotation of ADMIN_KEY too).
 */
export async function ensureAdminUser(dataSource: DataSource, config: AppConfig, announce: (line: string) => void): Promise<void> {
  const file = join(config.varDir, 'admin.password');
  const users = new UserRepository(dataSource);
  await dataSource.transaction(async (manager) => {
    await users.lockAdminUser(manager);
    let user = await users.findWithPasswordByName(config.adminUsername, manager);
    if (!user) {
      const generated = !config.adminPassword && !existsSync(file);
      const password = config.adminPassword ?? readOrCreateSecret(file);
      user = await users.insert(
        {
          id: uuidv7(),
          username: config.adminUsername,
          email: null,
          displayName: 'Provider administrator',
          passwordHash: await hashPassword(password),
          oidcIssuer: null,
          oidcSubject: null,
          disabled: false,
          lastLoginAt: null,
        },
        manager,
      );
      announce(
        config.adminPassword
          ? `created the console user ${config.adminUsername} (password from ADMIN_PASSWORD)`
          : `created the console user ${config.adminUsername}; password${generated ? ' (shown once, also' : ' (in'} ${file}${generated ? `): ${password}` : ')'}`,
      );
    } else if (config.adminPassword && !(user.passwordHash && (await verifyPassword(config.adminPassword, user.passwordHash)))) {
      await users.update(user.id, { passwordHash: await hashPassword(config.adminPassword) }, manager);
      announce(`ADMIN_PASSWORD changed: the password of ${config.adminUsername} is updated`);
    } else if (!config.adminPassword && existsSync(file)) {
      announce(`console user ${config.adminUsername}: password in ${file}`);
    }
    await users.giveAdminKeys(user.id, manager);
  });
}

/** For the launcher's banner: the generated admin password, when there is one. */
export function generatedAdminPassword(config: AppConfig): string | undefined {
  const file = join(config.varDir, 'admin.password');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}
