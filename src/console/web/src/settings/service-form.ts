/**
 * Rules of the service properties and webhook forms, free of the DOM. The file-name rule is the server's own, from
 * the Node-free src/common/file-name.ts; the server's other checks live in modules that import NestJS and
 * class-validator (src/services/dto.ts, src/webhooks), which cannot be bundled for the browser, so the few rules
 * needed here are mirrored from them, and the server's 400 answers are placed on the fields too.
 */

import { FILE_NAME_MAX_BYTES, fileNameProblem, type FileNameProblem } from '../../../../common/file-name';
import { CustomRow, propertiesFromRows, rowsFromProperties, sameProperties, validateCustomRows } from './custom-properties';

export interface ServiceView {
  id: string;
  containerId: string;
  name: string;
  description: string | null;
  profile: string | null;
  properties: Record<string, unknown>;
  suspended: boolean;
  priority: boolean;
  rootFolderId: string;
  createdAt: string;
  updatedAt: string;
}

export interface PropertiesDraft {
  name: string;
  description: string;
  /** '' for none: the service runs its own profile, or the default. */
  profile: string;
  /** The free-form properties, a row each. */
  properties: CustomRow[];
}

export type PropertiesField = keyof PropertiesDraft;

/** This form's wording of the API's file-name rule (src/common/file-name.ts): names become WebDAV paths and download file names. */
const NAME_PROBLEMS: Record<FileNameProblem, string> = {
  empty: 'A name is required.',
  'too-long': `At most ${FILE_NAME_MAX_BYTES} bytes of UTF-8.`,
  dot: 'Cannot be . or ..',
  separator: 'Cannot contain / or \\.',
  control: 'Cannot contain control characters.',
  format: 'Cannot contain invisible format characters (zero-width or text-direction controls).',
  padded: 'Cannot start or end with a space.',
};

/** Why a service name cannot be used, or null: checked before sending. */
export function nameProblem(value: string): string | null {
  const problem = fileNameProblem(value);
  return problem === null ? null : NAME_PROBLEMS[problem];
}

/** Mirror of `PROFILE_NAME` in src/services/dto.ts. */
export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const DESCRIPTION_MAX = 4000;

type EditedService = Pick<ServiceView, 'name' | 'description' | 'profile'> & { properties?: Record<string, unknown> | null };

export function propertiesDraft(service: EditedService): PropertiesDraft {
  return { name: service.name, description: service.description ?? '', profile: service.profile ?? '', properties: rowsFromProperties(service.properties) };
}

export function validateProperties(draft: PropertiesDraft): Partial<Record<PropertiesField, string>> {
  const errors: Partial<Record<PropertiesField, string>> = {};
  const name = nameProblem(draft.name);
  if (name) errors.name = name;
  if (draft.description.length > DESCRIPTION_MAX) errors.description = `At most ${DESCRIPTION_MAX} characters (now ${draft.description.length}).`;
  if (draft.profile && !PROFILE_NAME.test(draft.profile))
    errors.profile = 'A profile name is 1-100 letters, digits, . _ or -, starting with a letter or digit.';
  const custom = validateCustomRows(draft.properties);
  const bad = custom.rows.findIndex((row) => row.name || row.value);
  if (bad >= 0) errors.properties = `Row ${bad + 1}: ${custom.rows[bad].name ?? custom.rows[bad].value}`;
  else if (custom.general) errors.properties = custom.general;
  return errors;
}

/**
 * The body of PATCH /services/:id: only what changed. The profile selection is a management property
 * (service:manage): without that action it is never sent. Free-form properties are sent whole when any row changed.
 */
export function buildServicePatch(service: EditedService, draft: PropertiesDraft, canManage: boolean): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  if (draft.name !== service.name) patch.name = draft.name;
  if (draft.description !== (service.description ?? '')) patch.description = draft.description;
  if (canManage && draft.profile !== (service.profile ?? '')) patch.profile = draft.profile || null;
  // replaced whole on the server: the object sent is every row
  const properties = propertiesFromRows(draft.properties);
  if (!sameProperties(properties, service.properties)) patch.properties = properties;
  return patch;
}

/**
 * Places the messages of a 400 answer (`errors`, "name must …", "profile x does not exist", "url: …") on the field
 * whose name starts them; the rest stay general.
 */
export function errorsToFields<F extends string>(errors: readonly string[], fields: readonly F[]): { fields: Partial<Record<F, string>>; general: string[] } {
  const placed: Partial<Record<F, string>> = {};
  const general: string[] = [];
  for (const message of errors) {
    const first = /^([A-Za-z]+)\b:?/.exec(message)?.[1];
    const field = fields.find((each) => each === first);
    if (field) {
      const rest = message.slice(field.length).replace(/^[\s:]+/, '');
      // "name must not be empty" → "Must not be empty"; "profile x does not exist" stays whole
      const text = /^(must|is|should|has|the|only)\b/i.test(rest) ? rest.charAt(0).toUpperCase() + rest.slice(1) : message;
      placed[field] = placed[field] ? `${placed[field]} ${text}` : text;
    } else general.push(message);
  }
  return { fields: placed, general };
}

/** Final job states a webhook can be told about; mirror of FINAL_JOB_STATES in src/jobs/job.entity.ts. */
export const WEBHOOK_EVENTS = ['succeeded', 'failed', 'cancelled', 'skipped'] as const;

export interface WebhookDraft {
  url: string;
  events: string[];
}

export type WebhookField = keyof WebhookDraft;

/** What the form can tell before asking; the server also refuses private and loopback addresses (unless allowed). */
export function validateWebhook(draft: WebhookDraft): Partial<Record<WebhookField, string>> {
  const errors: Partial<Record<WebhookField, string>> = {};
  let url: URL | null = null;
  try {
    url = new URL(draft.url.trim());
  } catch {
    errors.url = draft.url.trim() ? 'Enter a full address such as https://example.org/mserve-events.' : 'An address is required.';
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') errors.url = 'Only http and https addresses can be called.';
  else if (url && (url.username || url.password)) errors.url = 'Put no user name or password in the address.';
  if (draft.url.trim().length > 2000) errors.url = 'At most 2000 characters.';
  return errors;
}
