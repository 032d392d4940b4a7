/** Every action a key can hold. Endpoints declare the one they need; roles are named bundles of these. */
export const ACTIONS = [
  'container:create',
  'container:read',
  'container:update',
  'container:delete',
  'service:create',
  'service:read',
  'service:update',
  'service:manage',
  'service:delete',
  'mfolder:read',
  'mfolder:write',
  'mfile:create',
  'mfile:read',
  'mfile:write',
  'mfile:delete',
  'job:create',
  'job:read',
  'job:cancel',
  'joboutput:read',
  'joboutput:promote',
  'usage:read',
  'usage:record',
  'key:create',
  'key:read',
  'key:revoke',
] as const;

export type Action = (typeof ACTIONS)[number];

const CONTENT: Action[] = [
  'mfolder:read',
  'mfolder:write',
  'mfile:create',
  'mfile:read',
  'mfile:write',
  'mfile:delete',
  'job:create',
  'job:read',
  'job:cancel',
  'joboutput:read',
  'joboutput:promote',
];
const KEYS: Action[] = ['key:create', 'key:read', 'key:revoke'];

/** MServe's roles. `service:manage` (quotas, suspension, window, priority) stays on the provider's side. */
export const ROLES = {
  admin: [...ACTIONS],
  containeradmin: [
    'container:read',
    'container:update',
    'service:create',
    'service:read',
    'service:update',
    'service:manage',
    'service:delete',
    ...CONTENT,
    'usage:read',
    'usage:record',
    ...KEYS,
  ],
  serviceadmin: ['service:read', 'service:update', 'service:manage', ...CONTENT, 'usage:read', 'usage:record', ...KEYS],
  servicecustomer: ['service:read', ...CONTENT, 'usage:read', 'usage:record', ...KEYS],
  mfileowner: [
    'mfile:read',
    'mfile:write',
    'mfile:delete',
    'job:create',
    'job:read',
    'job:cancel',
    'joboutput:read',
    'joboutput:promote',
    'usage:read',
    'usage:record',
    ...KEYS,
  ],
  mfilereadwrite: ['mfile:read', 'mfile:write', 'job:read', 'joboutput:read'],
  mfilereadonly: ['mfile:read'],
  jobowner: ['job:read', 'job:cancel', 'joboutput:read', 'usage:read', ...KEYS],
  jobreadonly: ['job:read', 'joboutput:read'],
} satisfies Record<string, Action[]>;

export type Role = keyof typeof ROLES;
export const ROLE_NAMES = Object.keys(ROLES) as Role[];

export function isAction(value: string): value is Action {
  return (ACTIONS as readonly string[]).includes(value);
}

/** Own names only: `constructor` or `__proto__` are in every object, and were taken for roles (a 500 on derive). */
export function isRole(value: string): value is Role {
  return Object.hasOwn(ROLES, value);
}

export function actionsOfRoles(roles: readonly string[]): Action[] {
  const set = new Set<Action>();
  for (const role of roles) if (isRole(role)) for (const action of ROLES[role]) set.add(action);
  return ACTIONS.filter((action) => set.has(action));
}
