/**
 * The key-derivation form's rules, free of the DOM so they can be unit-tested: which roles and actions the acting
 * key may hand on, which resources a sub-key may point at, how the expiry and the scope are checked, and the body of
 * `POST /api/v1/keys`. The server (src/keys/keys.service.ts `derive`) checks all of it again; the form only spares
 * people a round trip and tells them, next to the field, what would be refused.
 */
import { ACTIONS, ROLES } from '../../../../keys/actions';

// The role table is src/keys/actions.ts itself (a module without imports), bundled into the console: the roles the
// form offers cannot drift from the ones the server grants.
export { ACTIONS, ROLES };

export type ResourceType = 'provider' | 'container' | 'service' | 'mfolder' | 'mfile' | 'job' | 'joboutput';

export interface ParentKey {
  resource: { type: ResourceType; id: string | null };
  actions: readonly string[];
  expiresAt: string | null;
}

export interface DeriveDraft {
  roles: string[];
  /** Single actions on top of the roles, for keys narrower than any role. */
  actions: string[];
  /** `own`: the acting key's resource; `other`: the resource below it given by type and id. */
  scope: 'own' | 'other';
  resourceType: ResourceType;
  resourceId: string;
  /** A `datetime-local` value (local time, no zone), or '' for the acting key's own expiry. */
  expiresAt: string;
  label: string;
}

export interface DeriveKeyBody {
  roles: string[];
  actions?: string[];
  resource?: { type: ResourceType; id: string };
  expiresAt?: string;
  label?: string;
}

export type DeriveField = 'permissions' | 'resource' | 'expiresAt' | 'label';
export type DeriveErrors = Partial<Record<DeriveField, string>>;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LABEL_MAX = 255;

export const RESOURCE_LABELS: Record<ResourceType, string> = {
  provider: 'Provider',
  container: 'Container',
  service: 'Service',
  mfolder: 'Folder',
  mfile: 'File',
  job: 'Job',
  joboutput: 'Job output',
};

/** What a role lets its holder do, in a sentence, for the role picker. */
export const ROLE_DESCRIPTIONS: Record<string, string> = {
  admin: 'Everything, across the whole provider',
  containeradmin: 'Run a container: its services, their content, usage and keys',
  serviceadmin: 'Run a service: settings, profile, management, content, usage and keys',
  servicecustomer: 'Use a service: upload, edit, delete and process content; read usage; share',
  mfileowner: 'Own a file: read, replace, delete and process it; share it',
  mfilereadwrite: 'Read and replace files, see their jobs and outputs',
  mfilereadonly: 'Read files only',
  jobowner: 'Follow and cancel a job, read its outputs; share it',
  jobreadonly: 'Follow a job and read its outputs',
};

export interface RoleOffer {
  name: string;
  description: string;
  actions: string[];
}

/** The roles the acting key can hand on: those whose every action it holds. */
export function offeredRoles(parentActions: readonly string[]): RoleOffer[] {
  const held = new Set(parentActions);
  return Object.entries(ROLES)
    .filter(([, actions]) => actions.every((action) => held.has(action)))
    .map(([name, actions]) => ({ name, description: ROLE_DESCRIPTIONS[name] ?? '', actions: [...actions] }));
}

/** The single actions the acting key can hand on, in the server's order. */
export function grantableActions(parentActions: readonly string[]): string[] {
  const held = new Set<string>(parentActions);
  return ACTIONS.filter((action) => held.has(action));
}

/** Every action the drafted key would hold: its roles' and its single ones. */
export function grantedActions(draft: Pick<DeriveDraft, 'roles' | 'actions'>): string[] {
  const wanted = new Set<string>(draft.actions);
  for (const role of draft.roles) for (const action of (ROLES as Record<string, readonly string[]>)[role] ?? []) wanted.add(action);
  const known: string[] = ACTIONS.filter((action) => wanted.has(action));
  return [...known, ...[...wanted].filter((action) => !(ACTIONS as readonly string[]).includes(action))];
}

/** Ready-made permission sets; offered only when the acting key holds all they grant. */
export interface Preset {
  id: string;
  label: string;
  description: string;
  roles: string[];
  actions: string[];
}

export const PRESETS: Preset[] = [
  {
    id: 'view-share',
    label: 'View only (share)',
    description: 'Browse folders, open and download files, see thumbnails, previews and job results. Cannot upload, change or delete anything.',
    roles: ['mfilereadonly', 'jobreadonly'],
    actions: ['service:read', 'mfolder:read'],
  },
  {
    id: 'contributor',
    label: 'Contributor',
    description: 'Everything a customer of the service can do: upload, edit, delete, process, read usage, share.',
    roles: ['servicecustomer'],
    actions: [],
  },
  {
    id: 'file-only',
    label: 'One file, read only',
    description: 'Read a file (pick it as the scope below); nothing else.',
    roles: ['mfilereadonly'],
    actions: [],
  },
];

export function presetFits(preset: Preset, parentActions: readonly string[]): boolean {
  const held = new Set(parentActions);
  return grantedActions(preset).every((action) => held.has(action));
}

/** The preset the draft's permissions are exactly, if any (for the picker's state). */
export function matchingPreset(draft: Pick<DeriveDraft, 'roles' | 'actions'>): string | null {
  const granted = grantedActions(draft).join(' ');
  return PRESETS.find((preset) => grantedActions(preset).join(' ') === granted)?.id ?? null;
}

const DEPTH: Record<ResourceType, number> = { provider: 0, container: 1, service: 2, mfolder: 3, mfile: 4, job: 5, joboutput: 6 };

/**
 * The kinds of resource a sub-key of a key on `parent` may point at (the server checks the actual ancestry):
 * anything below it, and folders below a folder.
 */
export function scopeTypesBelow(parent: ResourceType): ResourceType[] {
  return (Object.keys(DEPTH) as ResourceType[]).filter(
    (type) => type !== 'provider' && (DEPTH[type] > DEPTH[parent] || (type === 'mfolder' && parent === 'mfolder')),
  );
}

/** `YYYY-MM-DDTHH:mm` in local time (what `<input type="datetime-local">` holds) → ISO 8601, or null if unparsable. */
export function localInputToIso(value: string): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim());
  if (!match) return null;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  const date = new Date(year, month - 1, day, hour, minute, Number.isNaN(second) ? 0 : second);
  if (date.getFullYear() !== year || date.getMonth() !== month - 1 || date.getDate() !== day || hour > 23 || minute > 59) return null;
  return date.toISOString();
}

/** An instant → `YYYY-MM-DDTHH:mm` in local time, cut to the minute (for the input's value and `max`). */
export function isoToLocalInput(iso: string | Date): string {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A quick expiry (now + days), never past the acting key's own; as a `datetime-local` value. */
export function expiryIn(days: number, parent: Pick<ParentKey, 'expiresAt'>, now = new Date()): string {
  let when = new Date(now.getTime() + days * 86_400_000);
  if (parent.expiresAt && when.getTime() > new Date(parent.expiresAt).getTime()) when = new Date(parent.expiresAt);
  return isoToLocalInput(when);
}

/** Everything the server would refuse, per field; empty when the draft can be sent. */
export function validateDerive(draft: DeriveDraft, parent: ParentKey, now = new Date()): DeriveErrors {
  const errors: DeriveErrors = {};
  const granted = grantedActions(draft);
  const held = new Set(parent.actions);
  if (granted.length === 0) errors.permissions = 'Pick at least one role or action.';
  else {
    const missing = granted.filter((action) => !held.has(action));
    if (missing.length) errors.permissions = `Your key does not hold ${missing.join(', ')}, so it cannot grant ${missing.length > 1 ? 'them' : 'it'}.`;
  }
  if (draft.scope === 'other') {
    const allowed = scopeTypesBelow(parent.resource.type);
    const id = draft.resourceId.trim();
    if (!allowed.includes(draft.resourceType))
      errors.resource = `A key on a ${RESOURCE_LABELS[parent.resource.type].toLowerCase()} can only be narrowed to ${allowed.map((type) => RESOURCE_LABELS[type].toLowerCase()).join(', ') || 'nothing below it'}.`;
    else if (!id) errors.resource = `Pick a ${RESOURCE_LABELS[draft.resourceType].toLowerCase()} or enter its id.`;
    else if (!UUID.test(id)) errors.resource = 'An id looks like 0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b.';
  }
  if (draft.expiresAt.trim()) {
    const iso = localInputToIso(draft.expiresAt);
    if (!iso) errors.expiresAt = 'Enter a date and time.';
    else if (new Date(iso).getTime() <= now.getTime()) errors.expiresAt = 'The expiry must be in the future.';
    else if (parent.expiresAt && new Date(iso).getTime() > new Date(parent.expiresAt).getTime()) {
      errors.expiresAt = `Your key expires ${new Date(parent.expiresAt).toLocaleString()}; a key derived from it cannot outlive it.`;
    }
  }
  if (draft.label.trim().length > LABEL_MAX) errors.label = `At most ${LABEL_MAX} characters (now ${draft.label.trim().length}).`;
  return errors;
}

/** The body of `POST /api/v1/keys`: roles, the single actions no chosen role covers, the scope, expiry and label. */
export function buildDeriveBody(draft: DeriveDraft): DeriveKeyBody {
  const covered = new Set(grantedActions({ roles: draft.roles, actions: [] }));
  const extra = [...new Set(draft.actions)].filter((action) => !covered.has(action));
  const body: DeriveKeyBody = { roles: [...new Set(draft.roles)] };
  if (extra.length) body.actions = extra;
  if (draft.scope === 'other') body.resource = { type: draft.resourceType, id: draft.resourceId.trim() };
  if (draft.expiresAt.trim()) {
    const iso = localInputToIso(draft.expiresAt);
    if (iso) body.expiresAt = iso;
  }
  if (draft.label.trim()) body.label = draft.label.trim();
  return body;
}

/** Maps a refused derivation (the server's problem) to the field it concerns. */
export function problemField(problem: { status: number; detail?: string; reason?: unknown; missingActions?: unknown }): DeriveField | null {
  if (Array.isArray(problem.missingActions)) return 'permissions';
  if (problem.reason === 'scope') return 'resource';
  if (problem.reason === 'expiry') return 'expiresAt';
  const detail = problem.detail ?? '';
  if (/expiresAt/.test(detail)) return 'expiresAt';
  if (/\b(role|action)s?\b/.test(detail)) return 'permissions';
  if (/label/.test(detail)) return 'label';
  if (problem.status === 404 || /resource|scope/.test(detail)) return 'resource';
  return null;
}

/** The capability URL that opens the console with a key, no account needed (src/console/web/src/pages/browse-key.tsx). */
export function shareLink(origin: string, secret: string): string {
  return `${origin.replace(/\/$/, '')}/browse/${encodeURIComponent(secret)}`;
}

export function emptyDraft(): DeriveDraft {
  return { roles: [], actions: [], scope: 'own', resourceType: 'service', resourceId: '', expiresAt: '', label: '' };
}

/** A key's state for the list: revoked, expired or active. */
export function keyStatus(key: { revokedAt: string | null; expiresAt: string | null }, now = new Date()): 'revoked' | 'expired' | 'active' {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && new Date(key.expiresAt).getTime() <= now.getTime()) return 'expired';
  return 'active';
}

/** The single actions a key holds beyond its roles (shown as "+ …" in the list). */
export function extraActions(key: { roles: string[]; actions: string[] }): string[] {
  const covered = new Set(grantedActions({ roles: key.roles, actions: [] }));
  return key.actions.filter((action) => !covered.has(action));
}
