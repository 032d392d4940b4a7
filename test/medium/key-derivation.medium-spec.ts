import { ProblemError } from '../../src/common/problem';
import { actionsOfRoles } from '../../src/keys/actions';
import { Key } from '../../src/keys/key.entity';
import { KeysModule } from '../../src/keys/keys.module';
import { AuthenticatedKey, DeriveRequest, KeysService } from '../../src/keys/keys.service';
import { adminKey, MediumFactory, MediumService, newMediumService, Tenant } from '../support/medium';

/** Sub-keys as KeysService derives, authenticates and revokes them, against the real key table. */
describe('key derivation (medium)', () => {
  let medium: MediumService;
  let keys: KeysService;
  let admin: AuthenticatedKey;
  let tenant: Tenant;
  let other: Tenant;

  beforeAll(async () => {
    medium = await newMediumService({ imports: [KeysModule] });
    keys = medium.get(KeysService);
    admin = await adminKey(medium);
    const factory = new MediumFactory(medium);
    tenant = await factory.tenant();
    other = await factory.tenant();
  });

  afterAll(async () => {
    await medium?.close();
  });

  /** Derives from `parent` and authenticates the new key by its secret, as a client presenting it would be. */
  async function derive(parent: AuthenticatedKey, request: DeriveRequest): Promise<AuthenticatedKey & { secret: string }> {
    const { secret } = await keys.derive(parent, request);
    return { ...(await keys.authenticate(secret)), secret };
  }

  async function refusal(promise: Promise<unknown>): Promise<ProblemError> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ProblemError);
    return error as ProblemError;
  }

  it('the admin key authenticates as the provider with every action', async () => {
    expect(admin.key).toMatchObject({ resourceType: 'provider', bootstrap: true, revokedAt: null });
    expect(admin.actions.has('service:manage')).toBe(true);
  });

  it('a derived key authenticates with the actions and resource it was given', async () => {
    const service = await derive(admin, { roles: ['servicecustomer'], resource: { type: 'service', id: tenant.serviceId }, label: 'medium' });
    expect(service.key).toMatchObject({
      resourceType: 'service',
      resourceId: tenant.serviceId,
      containerId: tenant.containerId,
      serviceId: tenant.serviceId,
      parentId: admin.key.id,
      label: 'medium',
    });
    expect([...service.actions].sort()).toEqual([...actionsOfRoles(['servicecustomer'])].sort());
    // a descendant of its resource (the service's root folder) is within its scope
    const folder = await derive(service, { actions: ['mfolder:read'], resource: { type: 'mfolder', id: tenant.rootFolderId } });
    expect(folder.key).toMatchObject({ resourceType: 'mfolder', resourceId: tenant.rootFolderId, parentId: service.key.id });
    expect([...folder.actions]).toEqual(['mfolder:read']);
  });

  it('refuses actions the parent does not hold (403 naming them)', async () => {
    const service = await derive(admin, { roles: ['servicecustomer'], resource: { type: 'service', id: tenant.serviceId } });
    const problem = await refusal(keys.derive(service, { actions: ['mfile:read', 'service:manage', 'key:create'] }));
    expect(problem).toMatchObject({ status: 403, code: 'missing-actions', extra: { missingActions: ['service:manage'] } });
    expect(problem.detail).toContain('service:manage');
    const byRole = await refusal(keys.derive(service, { roles: ['serviceadmin'] }));
    expect(byRole).toMatchObject({ status: 403, extra: { missingActions: ['service:update', 'service:manage'] } });
  });

  it("refuses another tenant's resource, and a wider one (403 naming the resource asked for)", async () => {
    const service = await derive(admin, { roles: ['servicecustomer'], resource: { type: 'service', id: tenant.serviceId } });
    const foreign = await refusal(keys.derive(service, { roles: ['mfilereadonly'], resource: { type: 'service', id: other.serviceId } }));
    expect(foreign).toMatchObject({ status: 403, code: 'forbidden', extra: { reason: 'scope' } });
    expect(foreign.detail).toBe(`the presented key's scope (service ${tenant.serviceId}) does not include service ${other.serviceId}`);
    const foreignFolder = await refusal(keys.derive(service, { actions: ['mfolder:read'], resource: { type: 'mfolder', id: other.rootFolderId } }));
    expect(foreignFolder.detail).toContain(`does not include mfolder ${other.rootFolderId}`);
    const wider = await refusal(keys.derive(service, { actions: ['mfile:read'], resource: { type: 'container', id: tenant.containerId } }));
    expect(wider.detail).toContain(`does not include container ${tenant.containerId}`);
  });

  it('refuses an expiry later than the parent (403 naming both); a child without one inherits it', async () => {
    const expiresAt = new Date(Date.now() + 3600_000);
    const parent = await derive(admin, { roles: ['servicecustomer'], resource: { type: 'service', id: tenant.serviceId }, expiresAt });
    const later = new Date(expiresAt.getTime() + 1000);
    const problem = await refusal(keys.derive(parent, { actions: ['mfile:read'], expiresAt: later }));
    expect(problem).toMatchObject({ status: 403, extra: { reason: 'expiry' } });
    expect(problem.detail).toBe(`expiresAt ${later.toISOString()} is later than the presented key's expiry ${expiresAt.toISOString()}`);
    const child = await derive(parent, { actions: ['mfile:read'] });
    expect(child.key.expiresAt?.getTime()).toBe(expiresAt.getTime());
    const sooner = await derive(parent, { actions: ['mfile:read'], expiresAt: new Date(expiresAt.getTime() - 1000) });
    expect(sooner.key.expiresAt?.getTime()).toBe(expiresAt.getTime() - 1000);
  });

  it('revoking a key revokes everything derived from it in one statement; the others stay usable', async () => {
    const parent = await derive(admin, { roles: ['servicecustomer'], resource: { type: 'service', id: tenant.serviceId } });
    const child = await derive(parent, { actions: ['mfile:read', 'mfolder:read', 'key:create'] });
    const grandchild = await derive(child, { actions: ['mfile:read'] });
    const sibling = await derive(admin, { roles: ['servicecustomer'], resource: { type: 'service', id: tenant.serviceId } });

    const { revoked } = await keys.revoke(parent, parent.key.id);
    expect(revoked.sort()).toEqual([parent.key.id, child.key.id, grandchild.key.id].sort());
    for (const key of [parent, child, grandchild]) {
      const problem = await refusal(keys.authenticate(key.secret));
      expect(problem).toMatchObject({ status: 401, detail: 'the presented key has been revoked' });
    }
    const rows: Key[] = await medium.dataSource.getRepository(Key).findBy(revoked.map((id) => ({ id })));
    expect(new Set(rows.map((row) => row.revokedAt?.getTime())).size).toBe(1); // one statement: one now()
    expect((await keys.authenticate(sibling.secret)).key.id).toBe(sibling.key.id);
  });
});
