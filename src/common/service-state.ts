import { ProblemError } from './problem';

/**
 * Management state of the service a resource sits in: suspended when the service or its container is, and
 * MServe's availability window. For a container itself, the container's suspension (no window).
 */
export interface ServiceState {
  suspended: boolean;
  containerSuspended: boolean;
  startsAt: Date | null;
  endsAt: Date | null;
}

/**
 * Suspension and MServe's time window. Whoever can lift them keeps working: keys with service:manage for the
 * service's own state, provider keys (container:create) for a suspended container. Everyone else gets a 403 that
 * says why. Requests (the key guard, WebDAV, job creation) and tasks (the quota check before a job runs) apply it.
 */
export function enforceServiceState(target: { service?: ServiceState }, action: string, actions: ReadonlySet<string>, now = new Date()): void {
  if (!target.service) return;
  const { startsAt, endsAt, suspended, containerSuspended } = target.service;
  if (containerSuspended && !action.endsWith(':read') && !actions.has('container:create')) {
    throw new ProblemError(403, 'container-suspended', 'Forbidden', `the container is suspended: every service in it is read-only, so ${action} is refused`);
  }
  if (actions.has('service:manage')) return;
  if ((startsAt && now < startsAt) || (endsAt && now >= endsAt)) {
    throw new ProblemError(
      403,
      'outside-time-window',
      'Forbidden',
      `the service is only available ${startsAt ? `from ${startsAt.toISOString()} ` : ''}${endsAt ? `until ${endsAt.toISOString()}` : ''}`.trim(),
      {
        startsAt,
        endsAt,
      },
    );
  }
  if (suspended && !action.endsWith(':read')) {
    throw new ProblemError(403, 'service-suspended', 'Forbidden', `the service is suspended: it is read-only, so ${action} is refused`);
  }
}
