import type { Abstract, DynamicModule, ForwardReference, Provider, Type } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { AppConfig, loadConfig } from '../../src/config/config';
import { ConfigModule } from '../../src/config/config.module';
import { Container } from '../../src/containers/container.entity';
import { ContainerRepository } from '../../src/containers/container.repository';
import { UnitOfWork } from '../../src/database/unit-of-work';
import { uuidv7 } from '../../src/database/uuid';
import { ensureAdminKey } from '../../src/keys/admin-key';
import { KeysService, AuthenticatedKey } from '../../src/keys/keys.service';
import { Mfile } from '../../src/mfiles/mfile.entity';
import { MfileRepository } from '../../src/mfiles/mfile.repository';
import { MfolderRepository } from '../../src/mfolders/mfolder.repository';
import { DatabaseModule } from '../../src/persistence/database.module';
import { ServiceRepository } from '../../src/services/service.repository';
import { ContentStore } from '../../src/storage/content-store';
import { UsageRepository } from '../../src/usage/usage.repository';

/**
 * The medium test tier (test/medium, like immich's server/test/medium): real services and repositories against the
 * run's real PostgreSQL (and real Redis where a module needs it), compiled as a Nest testing module, without an HTTP
 * server. Nothing of our own database or queues is mocked.
 */
export interface MediumService {
  module: TestingModule;
  config: AppConfig;
  dataSource: DataSource;
  /** A provider of the module (not strict: from any imported module). */
  get<T>(token: Type<T> | Abstract<T> | string | symbol): T;
  close(): Promise<void>;
}

type Import = Type<unknown> | DynamicModule | Promise<DynamicModule> | ForwardReference;

/**
 * Compiles and `init()`s a testing module made of config (storage in a temp dir under the run's VAR_DIR, its own
 * queue prefix), `DatabaseModule` (the data source, every repository, the unit of work) and what the spec asks for.
 */
export async function newMediumService(options: { imports?: Import[]; providers?: Provider[]; env?: Record<string, string> } = {}): Promise<MediumService> {
  const storageDir = mkdtempSync(join(process.env.VAR_DIR!, 'medium-'));
  const backupDir = mkdtempSync(join(process.env.VAR_DIR!, 'medium-backup-'));
  const queuePrefix = `mserve-medium-${Math.random().toString(36).slice(2, 10)}`;
  const config = loadConfig({ ...process.env, STORAGE_DIR: storageDir, BACKUP_DIR: backupDir, QUEUE_PREFIX: queuePrefix, ...options.env });
  const module = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot('api'), ...(options.imports ?? [])],
    providers: options.providers ?? [],
  }).compile();
  await module.init();
  return {
    module,
    config,
    dataSource: module.get(DataSource),
    get: <T>(token: Type<T> | Abstract<T> | string | symbol) => module.get<T>(token, { strict: false }),
    close: async () => {
      await module.close();
      rmSync(storageDir, { recursive: true, force: true });
      rmSync(backupDir, { recursive: true, force: true });
    },
  };
}

/** The provider admin key (ADMIN_KEY of the run), made sure of as the api does at boot, authenticated by KeysService. */
export async function adminKey(medium: MediumService): Promise<AuthenticatedKey> {
  await ensureAdminKey(medium.dataSource, medium.config, () => undefined);
  return medium.get(KeysService).authenticate(medium.config.adminKey!);
}

export interface Tenant {
  containerId: string;
  serviceId: string;
  rootFolderId: string;
}

export interface TenantOptions {
  service?: { suspended?: boolean; diskQuota?: number | null; ingestQuota?: number | null; jobruntimeQuota?: number | null; priority?: boolean };
  container?: { suspended?: boolean; diskQuota?: number | null; ingestQuota?: number | null };
}

/**
 * Makes tenants and their files through the real repositories (the rows the containers and services services
 * write: container, service, root folder; an Mfile with its bytes in the content store and its usage).
 */
export class MediumFactory {
  private store?: ContentStore;

  constructor(private readonly medium: MediumService) {}

  /** A container with one service and its root folder. */
  async tenant(options: TenantOptions = {}): Promise<Tenant> {
    const name = `medium-${Math.random().toString(36).slice(2, 10)}`;
    return this.medium.get(UnitOfWork).run(async ({ manager }) => {
      const containers = this.medium.get(ContainerRepository);
      const container = await containers.create({ id: uuidv7(), name, description: null, properties: {} }, manager);
      if (options.container) await manager.update(Container, { id: container.id }, options.container);
      const service = await this.medium.get(ServiceRepository).create(
        {
          id: uuidv7(),
          containerId: container.id,
          name,
          description: null,
          suspended: options.service?.suspended ?? false,
          startsAt: null,
          endsAt: null,
          priority: options.service?.priority ?? false,
          diskQuota: options.service?.diskQuota ?? null,
          ingestQuota: options.service?.ingestQuota ?? null,
          jobruntimeQuota: options.service?.jobruntimeQuota ?? null,
          appQuotas: null,
          accessSpeed: null,
          profile: null,
          properties: {},
        },
        manager,
      );
      const root = await this.medium
        .get(MfolderRepository)
        .create({ id: uuidv7(), containerId: container.id, serviceId: service.id, parentId: null, name: '' }, manager);
      return { containerId: container.id, serviceId: service.id, rootFolderId: root.id };
    });
  }

  /** An Mfile in the tenant's root folder, its bytes stored in the content store, its disc and ingest usage recorded. */
  async mfile(tenant: Tenant, options: { name?: string; bytes?: Buffer; mimetype?: string } = {}): Promise<Mfile> {
    const bytes = options.bytes ?? Buffer.from(`medium test bytes ${Math.random()}`);
    const store = await this.contentStore();
    const blob = await store.receive(Readable.from([bytes]), { maxBytes: bytes.length + 1 });
    return this.medium.get(UnitOfWork).run(async ({ manager }) => {
      const mfile = await this.medium.get(MfileRepository).create(
        {
          id: uuidv7(),
          containerId: tenant.containerId,
          serviceId: tenant.serviceId,
          folderId: tenant.rootFolderId,
          name: options.name ?? `file-${Math.random().toString(36).slice(2, 10)}.bin`,
          size: blob.size,
          md5: blob.md5,
          sha256: blob.sha256,
          mimetype: options.mimetype ?? 'application/octet-stream',
          blobKey: blob.blobKey,
          metadata: {},
        },
        manager,
      );
      const scope = { containerId: tenant.containerId, serviceId: tenant.serviceId, resourceType: 'mfile' as const, resourceId: mfile.id };
      await this.medium.get(UsageRepository).recordMany(
        [
          { metric: 'disc', value: blob.size, ...scope },
          { metric: 'ingest', value: blob.size, ...scope },
        ],
        manager,
      );
      return mfile;
    });
  }

  private async contentStore(): Promise<ContentStore> {
    if (!this.store) {
      this.store = new ContentStore(this.medium.config.storageDir);
      await this.store.init();
    }
    return this.store;
  }
}
