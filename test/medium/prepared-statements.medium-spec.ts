import { QueryFailedError } from 'typeorm';
import { configurePreparedStatements, queryPrepared } from '../../src/database/prepared';
import { KeysService } from '../../src/keys/keys.service';
import { KeysModule } from '../../src/keys/keys.module';
import { adminKey, MediumFactory, MediumService, newMediumService } from '../support/medium';

/** Named prepared statements (database/prepared.ts) against the run's real PostgreSQL. */
describe('prepared statements (medium)', () => {
  let medium: MediumService;

  beforeAll(async () => {
    medium = await newMediumService({ imports: [KeysModule] });
  });

  afterAll(async () => {
    configurePreparedStatements(true);
    await medium?.close();
  });

  /**
   * Runs `work` on one connection (a transaction, rolled back) and returns what it gave and the names of the
   * statements prepared on that connection with the text `text` (a pooled connection keeps other tests' ones).
   */
  async function onOneConnection<T>(text: string, work: (manager: import('typeorm').EntityManager) => Promise<T>): Promise<{ value: T; prepared: string[] }> {
    const runner = medium.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      const value = await work(runner.manager);
      const rows: Array<{ name: string }> = await runner.query('SELECT name FROM pg_prepared_statements WHERE statement = $1 ORDER BY name', [text]);
      return { value, prepared: rows.map((row) => row.name) };
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  }

  it('prepares a statement once per connection and answers as an unnamed query does', async () => {
    const text = 'SELECT $1::int + 1 AS n, $2::text AS label /* prepared-spec select */';
    const { value, prepared } = await onOneConnection(text, async (manager) => {
      const first = await queryPrepared<Array<{ n: number; label: string }>>(manager, text, [41, 'a']);
      const second = await queryPrepared<Array<{ n: number; label: string }>>(manager, text, [1, 'b']);
      const plain = await manager.query(text, [41, 'a']);
      return { first, second, plain };
    });
    expect(value.first).toEqual([{ n: 42, label: 'a' }]);
    expect(value.second).toEqual([{ n: 2, label: 'b' }]);
    expect(value.first).toEqual(value.plain);
    expect(prepared).toHaveLength(1);
    expect(prepared[0]).toMatch(/^ms_/);
  });

  it('keeps the shape TypeORM gives an UPDATE ([rows, rowCount]) and its QueryFailedError', async () => {
    const update = 'UPDATE prepared_spec SET v = $2 WHERE id <= $1 RETURNING id';
    const { value, prepared } = await onOneConnection(update, async (manager) => {
      await manager.query('CREATE TEMP TABLE prepared_spec (id int PRIMARY KEY, v text) ON COMMIT DROP');
      await manager.query(`INSERT INTO prepared_spec VALUES (1, 'x'), (2, 'y')`);
      return { prepared: await queryPrepared(manager, update, [2, 'z']), plain: await manager.query(update, [2, 'w']) };
    });
    expect(value.prepared).toEqual(value.plain);
    expect(value.prepared).toEqual([[{ id: 1 }, { id: 2 }], 2]);
    expect(prepared).toHaveLength(1);
    const failure = await queryPrepared(medium.dataSource.manager, 'SELECT 1 / $1::int AS x /* prepared-spec failure */', [0]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(QueryFailedError);
    expect((failure as QueryFailedError & { driverError: { code: string } }).driverError.code).toBe('22012'); // division_by_zero
  });

  it('prepares nothing when turned off (a pooler that cannot keep them)', async () => {
    configurePreparedStatements(false);
    try {
      const text = 'SELECT $1::int AS n /* prepared-spec off */';
      const { value, prepared } = await onOneConnection(text, (manager) => queryPrepared<Array<{ n: number }>>(manager, text, [7]));
      expect(value).toEqual([{ n: 7 }]);
      expect(prepared).toEqual([]);
    } finally {
      configurePreparedStatements(true);
    }
  });

  it('the request key lookup, prepared and past its custom plans, sees a revocation written straight into the table', async () => {
    const keys = medium.get(KeysService);
    const admin = await adminKey(medium);
    const tenant = await new MediumFactory(medium).tenant();
    const parent = await keys.derive(admin, { roles: ['servicecustomer'], resource: { type: 'service', id: tenant.serviceId } });
    const parentAuth = await keys.authenticate(parent.secret);
    const child = await keys.derive(parentAuth, { actions: ['mfile:read'] });
    // more than five runs on every pooled connection it may land on: PostgreSQL may then choose the cached generic plan
    for (let i = 0; i < 12; i++) {
      const { auth, service } = await keys.authenticateAt(child.secret, tenant.serviceId);
      expect(auth.key.parentId).toBe(parentAuth.key.id);
      expect(service).toMatchObject({ containerId: tenant.containerId, rootFolderId: tenant.rootFolderId, suspended: false });
    }
    await medium.dataSource.query('UPDATE key SET revoked_at = now() WHERE id = $1', [parentAuth.key.id]);
    const refused = await keys.authenticateAt(child.secret, tenant.serviceId).catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 401, detail: `the presented key was derived from key ${parentAuth.key.id}, which has been revoked` });
  });
});
