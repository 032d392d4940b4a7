import { Problems } from '../common/problem';

export enum QueueName {
  Normal = 'normal',
  Priority = 'priority',
}

/** `normal`, `priority`, or `hardware.<tag>` for a dedicated device (served with concurrency 1). */
export function assertQueueName(name: string): string {
  if (name === QueueName.Normal || name === QueueName.Priority || /^hardware\.[a-z0-9][a-z0-9-]{0,30}$/.test(name)) return name;
  throw Problems.badRequest(`unknown queue "${name}": use normal, priority or hardware.<tag>`, { errors: [`queue must be normal, priority or hardware.<tag>`] });
}

/**
 * Routing, in one place (MServe's routing key): the request's queue wins, then the service's priority flag,
 * then the task's default queue.
 */
export function routeQueue(options: { requested?: string; servicePriority: boolean; taskDefault: string }): string {
  if (options.requested) return assertQueueName(options.requested);
  if (options.servicePriority && !options.taskDefault.startsWith('hardware.')) return QueueName.Priority;
  return options.taskDefault;
}

/** The Bull payload: only the id. PostgreSQL holds the job; a lost message can be rebuilt from the row. */
export interface QueuedJob {
  jobId: string;
}
