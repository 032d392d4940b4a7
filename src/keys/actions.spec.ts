import { ACTIONS, actionsOfRoles, ROLES } from './actions';

describe('roles and actions', () => {
  it('every role is a subset of admin, and the provider-side actions stay off customer roles', () => {
    for (const [role, actions] of Object.entries(ROLES)) {
      for (const action of actions) expect([role, ACTIONS.includes(action)]).toEqual([role, true]);
    }
    for (const role of ['servicecustomer', 'mfileowner', 'mfilereadwrite', 'mfilereadonly', 'jobowner', 'jobreadonly']) {
      expect(actionsOfRoles([role])).not.toContain('service:manage');
      expect(actionsOfRoles([role])).not.toContain('container:create');
    }
  });

  it('read-only roles hold no write action', () => {
    for (const role of ['mfilereadonly', 'jobreadonly']) expect(actionsOfRoles([role]).every((action) => action.endsWith(':read'))).toBe(true);
  });

  it('expands roles to a sorted, duplicate-free action list; unknown roles give nothing', () => {
    expect(actionsOfRoles(['mfilereadonly', 'mfilereadwrite'])).toEqual(['mfile:read', 'mfile:write', 'job:read', 'joboutput:read']);
    expect(actionsOfRoles(['nonsense'])).toEqual([]);
  });
});
