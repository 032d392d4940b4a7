import { ROLES as SERVER_ROLES } from '../../../../keys/actions';
import {
  buildDeriveBody,
  DeriveDraft,
  emptyDraft,
  expiryIn,
  extraActions,
  grantableActions,
  grantedActions,
  isoToLocalInput,
  keyStatus,
  localInputToIso,
  matchingPreset,
  offeredRoles,
  ParentKey,
  PRESETS,
  presetFits,
  problemField,
  ROLES,
  scopeTypesBelow,
  shareLink,
  validateDerive,
} from './derive-form';

const serviceAdmin: ParentKey = {
  resource: { type: 'service', id: '0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b' },
  actions: [...SERVER_ROLES.serviceadmin],
  expiresAt: null,
};
const customer: ParentKey = { ...serviceAdmin, actions: [...SERVER_ROLES.servicecustomer] };
const draft = (change: Partial<DeriveDraft>): DeriveDraft => ({ ...emptyDraft(), ...change });
const NOW = new Date('2026-03-10T12:00:00Z');
const FILE_ID = '0192f3c4-0000-7000-8000-000000000001';

describe('key derivation form', () => {
  it('uses the server role table itself', () => {
    expect(ROLES).toBe(SERVER_ROLES);
  });

  it('offers only the roles whose every action the acting key holds', () => {
    expect(offeredRoles(serviceAdmin.actions).map((role) => role.name)).toEqual([
      'serviceadmin',
      'servicecustomer',
      'mfileowner',
      'mfilereadwrite',
      'mfilereadonly',
      'jobowner',
      'jobreadonly',
    ]);
    // a customer lacks service:update and service:manage
    expect(offeredRoles(customer.actions).map((role) => role.name)).not.toContain('serviceadmin');
    expect(offeredRoles(customer.actions).map((role) => role.name)).toContain('servicecustomer');
    expect(offeredRoles(['mfile:read']).map((role) => role.name)).toEqual(['mfilereadonly']);
    expect(offeredRoles([])).toEqual([]);
    expect(offeredRoles(SERVER_ROLES.admin).length).toBe(Object.keys(SERVER_ROLES).length);
    for (const role of offeredRoles(serviceAdmin.actions)) expect(role.description).not.toBe('');
  });

  it('offers single actions the acting key holds, in the server order', () => {
    expect(grantableActions(['mfile:read', 'service:read', 'nonsense'])).toEqual(['service:read', 'mfile:read']);
  });

  it('unions roles and single actions', () => {
    expect(grantedActions({ roles: ['mfilereadonly'], actions: ['mfolder:read', 'mfile:read'] })).toEqual(['mfolder:read', 'mfile:read']);
    expect(grantedActions({ roles: ['jobreadonly'], actions: [] })).toEqual(['job:read', 'joboutput:read']);
  });

  it('the view-only preset can view and cannot write or delete anything', () => {
    const view = PRESETS.find((preset) => preset.id === 'view-share')!;
    const granted = grantedActions(view);
    expect(granted).toEqual(expect.arrayContaining(['service:read', 'mfolder:read', 'mfile:read', 'job:read', 'joboutput:read']));
    expect(granted.filter((action) => /:(write|delete|create|update|manage|revoke|cancel|promote)$/.test(action))).toEqual([]);
    expect(presetFits(view, serviceAdmin.actions)).toBe(true);
    expect(presetFits(view, ['mfile:read'])).toBe(false);
    expect(matchingPreset({ roles: ['mfilereadonly', 'jobreadonly'], actions: ['mfolder:read', 'service:read'] })).toBe('view-share');
    expect(matchingPreset({ roles: ['mfilereadonly'], actions: ['mfile:write'] })).toBeNull();
  });

  it('narrows scopes only downwards', () => {
    expect(scopeTypesBelow('provider')).toEqual(['container', 'service', 'mfolder', 'mfile', 'job', 'joboutput']);
    expect(scopeTypesBelow('service')).toEqual(['mfolder', 'mfile', 'job', 'joboutput']);
    expect(scopeTypesBelow('mfolder')).toEqual(['mfolder', 'mfile', 'job', 'joboutput']);
    expect(scopeTypesBelow('mfile')).toEqual(['job', 'joboutput']);
    expect(scopeTypesBelow('joboutput')).toEqual([]);
  });

  describe('validation', () => {
    it('needs at least one permission, and only ones the acting key holds', () => {
      expect(validateDerive(draft({}), serviceAdmin, NOW).permissions).toMatch(/at least one/);
      expect(validateDerive(draft({ roles: ['serviceadmin'] }), customer, NOW).permissions).toMatch(/does not hold service:update, service:manage/);
      expect(validateDerive(draft({ actions: ['container:delete'] }), customer, NOW).permissions).toMatch(/container:delete.*cannot grant it/);
      expect(validateDerive(draft({ roles: ['mfilereadonly'] }), customer, NOW)).toEqual({});
    });

    it('checks the scope type and id', () => {
      expect(
        validateDerive(draft({ roles: ['mfilereadonly'], scope: 'other', resourceType: 'container', resourceId: FILE_ID }), serviceAdmin, NOW).resource,
      ).toMatch(/only be narrowed to folder, file, job, job output/);
      expect(validateDerive(draft({ roles: ['mfilereadonly'], scope: 'other', resourceType: 'mfile', resourceId: '' }), serviceAdmin, NOW).resource).toMatch(
        /Pick a file/,
      );
      expect(validateDerive(draft({ roles: ['mfilereadonly'], scope: 'other', resourceType: 'mfile', resourceId: 'abc' }), serviceAdmin, NOW).resource).toMatch(
        /looks like/,
      );
      expect(validateDerive(draft({ roles: ['mfilereadonly'], scope: 'other', resourceType: 'mfile', resourceId: ` ${FILE_ID} ` }), serviceAdmin, NOW)).toEqual(
        {},
      );
      // the scope is only checked when another resource is chosen
      expect(validateDerive(draft({ roles: ['mfilereadonly'], scope: 'own', resourceType: 'container', resourceId: 'x' }), serviceAdmin, NOW)).toEqual({});
    });

    it('keeps the expiry in the future and no later than the acting key', () => {
      const parent = { ...serviceAdmin, expiresAt: '2026-03-20T12:00:00.000Z' };
      const local = (iso: string) => isoToLocalInput(iso);
      expect(validateDerive(draft({ roles: ['mfilereadonly'], expiresAt: local('2026-03-01T12:00:00Z') }), parent, NOW).expiresAt).toMatch(/future/);
      expect(validateDerive(draft({ roles: ['mfilereadonly'], expiresAt: local('2026-04-01T12:00:00Z') }), parent, NOW).expiresAt).toMatch(/cannot outlive it/);
      expect(validateDerive(draft({ roles: ['mfilereadonly'], expiresAt: local('2026-03-15T12:00:00Z') }), parent, NOW)).toEqual({});
      expect(validateDerive(draft({ roles: ['mfilereadonly'], expiresAt: 'tomorrow' }), parent, NOW).expiresAt).toMatch(/date and time/);
      // no expiry on the parent: any future date
      expect(validateDerive(draft({ roles: ['mfilereadonly'], expiresAt: local('2099-01-01T00:00:00Z') }), serviceAdmin, NOW)).toEqual({});
    });

    it('limits the label', () => {
      expect(validateDerive(draft({ roles: ['mfilereadonly'], label: 'x'.repeat(256) }), serviceAdmin, NOW).label).toMatch(/255/);
      expect(validateDerive(draft({ roles: ['mfilereadonly'], label: 'x'.repeat(255) }), serviceAdmin, NOW)).toEqual({});
    });
  });

  describe('request body', () => {
    it('sends roles, only the actions no role covers, and nothing it does not need', () => {
      expect(
        buildDeriveBody(draft({ roles: ['mfilereadonly', 'jobreadonly'], actions: ['mfile:read', 'service:read', 'mfolder:read', 'service:read'] })),
      ).toEqual({
        roles: ['mfilereadonly', 'jobreadonly'],
        actions: ['service:read', 'mfolder:read'],
      });
      expect(buildDeriveBody(draft({ actions: ['mfile:read'] }))).toEqual({ roles: [], actions: ['mfile:read'] });
    });

    it('adds the scope, the expiry as ISO 8601 and a trimmed label', () => {
      const expiry = isoToLocalInput('2026-03-15T12:30:00Z');
      expect(
        buildDeriveBody(
          draft({ roles: ['mfilereadonly'], scope: 'other', resourceType: 'mfile', resourceId: ` ${FILE_ID}`, expiresAt: expiry, label: '  for Ann ' }),
        ),
      ).toEqual({
        roles: ['mfilereadonly'],
        resource: { type: 'mfile', id: FILE_ID },
        expiresAt: '2026-03-15T12:30:00.000Z',
        label: 'for Ann',
      });
    });
  });

  it('converts between datetime-local values and instants', () => {
    const iso = '2026-07-04T09:05:00.000Z';
    expect(localInputToIso(isoToLocalInput(iso))).toBe(iso);
    expect(localInputToIso('2026-02-30T10:00')).toBeNull();
    expect(localInputToIso('2026-02-10T25:00')).toBeNull();
    expect(localInputToIso('')).toBeNull();
  });

  it('quick expiries never pass the acting key', () => {
    expect(localInputToIso(expiryIn(7, { expiresAt: null }, NOW))).toBe('2026-03-17T12:00:00.000Z');
    expect(localInputToIso(expiryIn(30, { expiresAt: '2026-03-20T12:00:59.000Z' }, NOW))).toBe('2026-03-20T12:00:00.000Z');
  });

  it('maps refusals from the server to fields', () => {
    expect(problemField({ status: 403, detail: 'this key lacks the action service:manage', missingActions: ['service:manage'] })).toBe('permissions');
    expect(problemField({ status: 403, detail: "the presented key's scope (service x) does not include container y", reason: 'scope' })).toBe('resource');
    expect(problemField({ status: 403, detail: 'expiresAt 2027 is later than', reason: 'expiry' })).toBe('expiresAt');
    expect(problemField({ status: 400, detail: 'expiresAt is in the past' })).toBe('expiresAt');
    expect(problemField({ status: 404, detail: "mfile 1 does not exist or is outside this key's scope" })).toBe('resource');
    expect(problemField({ status: 500, detail: 'boom' })).toBeNull();
  });

  it('builds share links and key states', () => {
    expect(shareLink('http://localhost:3000/', 'ms_abc')).toBe('http://localhost:3000/browse/ms_abc');
    expect(keyStatus({ revokedAt: '2026-01-01T00:00:00Z', expiresAt: null }, NOW)).toBe('revoked');
    expect(keyStatus({ revokedAt: null, expiresAt: '2026-01-01T00:00:00Z' }, NOW)).toBe('expired');
    expect(keyStatus({ revokedAt: null, expiresAt: null }, NOW)).toBe('active');
    expect(extraActions({ roles: ['mfilereadonly'], actions: ['mfile:read', 'service:read'] })).toEqual(['service:read']);
  });
});
