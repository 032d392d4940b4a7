/**
 * What happens in a service that an engine may want to react to, besides its jobs ending: files arriving, being
 * replaced, moved or deleted, uploads completing, a quota refusing, the service being suspended. Delivered to the
 * service's webhooks that asked for the type and to its event stream (GET /services/:id/events), after the change
 * committed; best effort on the stream, retried until a 2xx to a webhook.
 */
export const SERVICE_EVENT_TYPES = [
  'mfile.created',
  'mfile.replaced',
  'mfile.moved',
  'mfile.deleted',
  'upload.completed',
  'upload.expired',
  'quota.exceeded',
  'service.suspended',
  'service.resumed',
] as const;

export type ServiceEventType = (typeof SERVICE_EVENT_TYPES)[number];

export interface ServiceEvent {
  /** Unique: a delivery retried carries the same one (and it is its Idempotency-Key). */
  id: string;
  type: ServiceEventType;
  serviceId: string;
  /** When the change committed (ms); the events of one change share it and are emitted in the order they happened. */
  at: string;
  data: Record<string, unknown>;
}

export function isServiceEventType(value: string): value is ServiceEventType {
  return (SERVICE_EVENT_TYPES as readonly string[]).includes(value);
}

/** What a file's event says of it (mfile.*): enough to act on without reading it first. */
export function mfileEventData(file: { id: string; name: string; folderId: string; size: number; mimetype: string; sha256: string }) {
  const { id, name, folderId, size, mimetype, sha256 } = file;
  return { id, name, folderId, size, mimetype, sha256 };
}
