/**
 * A domain error that maps to an RFC 9457 problem document. Code is a stable, machine-readable slug;
 * `extra` members are added to the body (e.g. `missingActions`, `quota`).
 */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

export const Problems = {
  notFound: (what: string, id?: string) =>
    new ProblemError(404, 'not-found', 'Not Found', id ? `${what} ${id} does not exist or is outside this key's scope` : `${what} not found`),
  unauthenticated: (detail: string) => new ProblemError(401, 'unauthenticated', 'Unauthorized', detail),
  forbidden: (detail: string, extra: Record<string, unknown> = {}) => new ProblemError(403, 'forbidden', 'Forbidden', detail, extra),
  missingActions: (actions: string[], on?: string) =>
    new ProblemError(
      403,
      'missing-actions',
      'Forbidden',
      `this key lacks ${actions.length > 1 ? 'the actions' : 'the action'} ${actions.join(', ')}${on ? ` on ${on}` : ''}`,
      {
        missingActions: actions,
      },
    ),
  badRequest: (detail: string, extra: Record<string, unknown> = {}) => new ProblemError(400, 'bad-request', 'Bad Request', detail, extra),
  conflict: (detail: string, extra: Record<string, unknown> = {}) => new ProblemError(409, 'conflict', 'Conflict', detail, extra),
  tooLarge: (detail: string, extra: Record<string, unknown> = {}) => new ProblemError(413, 'payload-too-large', 'Payload Too Large', detail, extra),
  unsupportedMediaType: (detail: string) => new ProblemError(415, 'unsupported-media-type', 'Unsupported Media Type', detail),
  insufficientStorage: (detail: string) => new ProblemError(507, 'insufficient-storage', 'Insufficient Storage', detail),
  unprocessable: (detail: string) => new ProblemError(422, 'unprocessable', 'Unprocessable Content', detail),
  preconditionFailed: (detail: string) => new ProblemError(412, 'precondition-failed', 'Precondition Failed', detail),
  /** A dependency (the database, Redis) is down or not answering: retry after `retryAfterSeconds` (sent as Retry-After). */
  unavailable: (detail: string, extra: Record<string, unknown> = {}) =>
    new ProblemError(503, 'unavailable', 'Service Unavailable', detail, { retryAfterSeconds: DEPENDENCY_RETRY_AFTER_SECONDS, ...extra }),
};

/** What a 503 for a dependency outage tells clients to wait before retrying (Retry-After). */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;
