import { ProblemError } from '../../src/common/problem';
import { uuidv7 } from '../../src/database/uuid';
import { floorTo } from '../../src/usage/usage-report';
import { QuotaService } from '../../src/usage/quota.service';
import { UsageModule } from '../../src/usage/usage.module';
import { UsageRepository } from '../../src/usage/usage.repository';
import { MediumFactory, MediumService, newMediumService, Tenant } from '../support/medium';

/** QuotaService against the usage the real repositories record, inside real transactions. */
describe('quotas (medium)', () => {
  let medium: MediumService;
  let factory: MediumFactory;
  let quotas: QuotaService;

  beforeAll(async () => {
    medium = await newMediumService({ imports: [UsageModule] });
    factory = new MediumFactory(medium);
    quotas = medium.get(QuotaService);
  });

  afterAll(async () => {
    await medium?.close();
  });

  /** What `enforce` throws (or undefined), in a transaction of its own that is rolled back either way. */
  async function enforce(serviceId: string, demand: Parameters<QuotaService['enforce']>[2]): Promise<ProblemError | undefined> {
    return medium.dataSource
      .transaction((manager) => quotas.enforce(manager, serviceId, demand))
      .then(
        () => undefined,
        (error: unknown) => {
          if (error instanceof ProblemError) return error;
          throw error;
        },
      );
  }

  const bytes = (n: number) => Buffer.alloc(n, 7);

  describe('disk quota', () => {
    let tenant: Tenant;

    beforeAll(async () => {
      tenant = await factory.tenant({ service: { diskQuota: 1000 } });
      await factory.mfile(tenant, { bytes: bytes(600) });
    });

    it('passes a change that fits, counting what it frees', async () => {
      expect(await enforce(tenant.serviceId, { disc: 400 })).toBeUndefined();
      expect(await enforce(tenant.serviceId, { disc: 600, releasing: 200 })).toBeUndefined();
    });

    it('refuses one byte too many with a 507 naming the quota, its limit and the use', async () => {
      const problem = await enforce(tenant.serviceId, { disc: 401 });
      expect(problem).toMatchObject({
        status: 507,
        code: 'quota-exceeded',
        extra: { quota: { name: 'diskQuota', scope: 'service', limit: 1000, used: 600, requested: 401 } },
      });
      expect(problem!.detail).toContain('limit 1000 bytes, 600 in use');
      expect(await enforce(tenant.serviceId, { disc: 601, releasing: 200 })).toMatchObject({ status: 507, extra: { quota: { requested: 401 } } });
    });

    it("applies the container's quota over all its services", async () => {
      const limited = await factory.tenant({ container: { diskQuota: 100 } });
      expect(await enforce(limited.serviceId, { disc: 100 })).toBeUndefined();
      expect(await enforce(limited.serviceId, { disc: 101 })).toMatchObject({
        status: 507,
        extra: { quota: { name: 'diskQuota', scope: 'container', limit: 100, used: 0 } },
      });
    });

    it('serialises concurrent changes on the service row: two that each fit cannot jointly overshoot', async () => {
      const usage = medium.get(UsageRepository);
      let locked!: () => void;
      let release!: () => void;
      const firstLocked = new Promise<void>((resolve) => (locked = resolve));
      const firstMayCommit = new Promise<void>((resolve) => (release = resolve));
      const first = medium.dataSource.transaction(async (manager) => {
        await quotas.enforce(manager, tenant.serviceId, { disc: 300 });
        await usage.recordMany([{ metric: 'disc', value: 300, containerId: tenant.containerId, serviceId: tenant.serviceId }], manager);
        locked();
        await firstMayCommit;
      });
      await firstLocked;
      let settled = false;
      const second = enforce(tenant.serviceId, { disc: 300 }).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false); // waiting for the first one's lock
      release();
      await first;
      expect(await second).toMatchObject({ status: 507, extra: { quota: { used: 900, requested: 300 } } });
    });
  });

  describe('without a disk or ingest quota', () => {
    it("concurrent changes of a service do not wait for each other's commit; setting a quota waits for them, and the next change sees it", async () => {
      const tenant = await factory.tenant();
      let locked!: () => void;
      let release!: () => void;
      const firstLocked = new Promise<void>((resolve) => (locked = resolve));
      const firstMayCommit = new Promise<void>((resolve) => (release = resolve));
      const first = medium.dataSource.transaction(async (manager) => {
        await quotas.enforce(manager, tenant.serviceId, { disc: 300, ingest: 300 });
        locked();
        await firstMayCommit;
      });
      await firstLocked;
      // while the first holds its lock: a second change passes its check (it would wait for ever if the lock were exclusive)
      expect(await enforce(tenant.serviceId, { disc: 300, ingest: 300 })).toBeUndefined();
      // a quota set meanwhile waits for the first change to commit
      let quotaSet = false;
      const setting = medium.dataSource.query('UPDATE service SET disk_quota = 100 WHERE id = $1', [tenant.serviceId]).then(() => (quotaSet = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(quotaSet).toBe(false);
      release();
      await first;
      await setting;
      // and from then on every change is checked against it, serialised again
      expect(await enforce(tenant.serviceId, { disc: 300 })).toMatchObject({ status: 507, extra: { quota: { name: 'diskQuota', limit: 100 } } });
    });
  });

  describe('ingest quota', () => {
    let tenant: Tenant;

    beforeAll(async () => {
      tenant = await factory.tenant({ service: { ingestQuota: 1000 } });
      await factory.mfile(tenant, { bytes: bytes(600) });
      // last month's ingest does not count against this month's quota
      const lastMonth = new Date(floorTo('month', new Date()).getTime() - 1000);
      await medium
        .get(UsageRepository)
        .recordMany([{ metric: 'ingest', value: 5000, containerId: tenant.containerId, serviceId: tenant.serviceId, recordedAt: lastMonth }]);
    });

    it("passes what fits in this month's quota", async () => {
      expect(await enforce(tenant.serviceId, { disc: 400, ingest: 400 })).toBeUndefined();
    });

    it('refuses past it with a 429 that says when to retry (the start of next month)', async () => {
      const problem = await enforce(tenant.serviceId, { disc: 401, ingest: 401 });
      expect(problem).toMatchObject({
        status: 429,
        code: 'quota-exceeded',
        extra: { quota: { name: 'ingestQuota', scope: 'service', limit: 1000, used: 600, requested: 401, period: 'month' } },
      });
      const monthStart = floorTo('month', new Date());
      const nextMonth = new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 1));
      const { quota, retryAfterSeconds } = problem!.extra as { quota: { resetsAt: string }; retryAfterSeconds: number };
      expect(quota.resetsAt).toBe(nextMonth.toISOString());
      expect(retryAfterSeconds).toBeGreaterThan(0);
      expect(Math.abs(retryAfterSeconds - (nextMonth.getTime() - Date.now()) / 1000)).toBeLessThan(60);
    });
  });

  describe('jobRefusal', () => {
    it('lets the jobs of an active service run', async () => {
      const tenant = await factory.tenant({ service: { jobruntimeQuota: 10 } });
      expect(await quotas.jobRefusal(tenant.serviceId)).toBeUndefined();
    });

    it('refuses the jobs of a suspended service, or of a service in a suspended container', async () => {
      const suspended = await factory.tenant({ service: { suspended: true } });
      expect(await quotas.jobRefusal(suspended.serviceId)).toBe('the service is suspended: it is read-only, so task:run is refused: its tasks do not run');
      const inSuspendedContainer = await factory.tenant({ container: { suspended: true } });
      expect(await quotas.jobRefusal(inSuspendedContainer.serviceId)).toMatch(/^the container is suspended.*its tasks do not run$/);
    });

    it("refuses once this month's job runtime is used up, and for a deleted service", async () => {
      const tenant = await factory.tenant({ service: { jobruntimeQuota: 10 } });
      await medium.get(UsageRepository).recordMany([{ metric: 'jobruntime', value: 10, containerId: tenant.containerId, serviceId: tenant.serviceId }]);
      expect(await quotas.jobRefusal(tenant.serviceId)).toMatch(/monthly job runtime quota is used up \(limit 10 s, 10 s used this month\)/);
      expect(await quotas.jobRefusal(uuidv7())).toBe('the service was deleted');
    });
  });
});
