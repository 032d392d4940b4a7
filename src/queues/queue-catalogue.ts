import type { JobOptions, QueueOptions } from 'bull';
import { Problems } from '../common/problem';

/**
 * The queue catalogue: every queue MServe uses, the payload its messages carry and the Bull options they are
 * added with — in one place, so callers add typed payloads through `QueueRegistry.get(name)` and set only what
 * belongs to one message (its id, a repeat rule).
 */
export enum QueueName {
  /** Task jobs. */
  Normal = 'normal',
  /** Task jobs of priority services or requests (a queue of its own: priority inside one Bull queue is O(backlog)). */
  Priority = 'priority',
  /** Ticks of periodic pipelines (internal; every worker serves it). */
  Scheduler = 'scheduler',
  /** Webhook deliveries (internal; every worker serves it). */
  Webhooks = 'webhooks',
}

/**
 * A task queue's payload: only ids. PostgreSQL holds the jobs; a lost message can be rebuilt from the rows. One job
 * (`jobId`), or the steps of one pipeline run that became runnable together on this queue (`jobIds`, `jobId` being
 * the first of them): one worker claims them in one statement, reads their input once and records them together.
 */
export interface QueuedJob {
  jobId: string;
  jobIds?: string[];
  runId?: string;
}

/** The ids of the jobs a message carries. */
export function jobIdsOf(payload: QueuedJob): string[] {
  return payload.jobIds?.length ? payload.jobIds : [payload.jobId];
}

/**
 * The Bull id of a task message, which deduplicates it: a single job's is the job's id (cancelling a job takes its
 * message off the queue by it); a batch's is `run-<first job id>`, never a job's own id (cancelling one step of a
 * batch leaves the message for the others, whose claim skips the cancelled one).
 */
export function messageIdOf(payload: QueuedJob): string {
  return payload.jobIds && payload.jobIds.length > 1 ? `run-${payload.jobIds[0]}` : payload.jobId;
}

/** A tick of a service's periodic pipeline. */
export interface PeriodicTick {
  serviceId: string;
}

/** One webhook delivery. */
export interface WebhookDelivery {
  /** Also the Idempotency-Key: the same delivery retried carries the same one. */
  deliveryId: string;
  webhookId: string;
  type: string;
  /** A job that ended (`job.<state>`): its current row is read when delivering. */
  jobId?: string;
  /** Any other event of the service, delivered as it was emitted. */
  event?: { id: string; type: string; serviceId: string; at: string; data: Record<string, unknown> };
}

/** `hardware.<tag>`: a dedicated device's task queue, served with concurrency 1. */
export type HardwareQueueName = `hardware.${string}`;
export type TaskQueueName = QueueName.Normal | QueueName.Priority | HardwareQueueName;

/** Queue name → payload. */
export interface QueuePayloads {
  [QueueName.Normal]: QueuedJob;
  [QueueName.Priority]: QueuedJob;
  [QueueName.Scheduler]: PeriodicTick;
  [QueueName.Webhooks]: WebhookDelivery;
}
export type PayloadOf<N extends string> = N extends keyof QueuePayloads ? QueuePayloads[N] : QueuedJob;

const TASK_JOB: JobOptions = { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 1000, removeOnFail: 5000 };

/** Queue name → the Bull options every message of it is added with. */
export const JOB_OPTIONS: Record<QueueName, JobOptions> = {
  [QueueName.Normal]: TASK_JOB,
  [QueueName.Priority]: TASK_JOB,
  [QueueName.Scheduler]: { removeOnComplete: 100, removeOnFail: 100 },
  // a receiver may be down for a while: ten attempts with backoff span about 17 minutes
  [QueueName.Webhooks]: { attempts: 10, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 1000, removeOnFail: 5000 },
};

/** The options a message of `name` is added with (hardware queues are task queues). */
export function jobOptionsOf(name: string): JobOptions {
  return JOB_OPTIONS[name as QueueName] ?? TASK_JOB;
}

/** The queues every worker serves besides the task queues it is told to. */
export const INTERNAL_QUEUES = [QueueName.Scheduler, QueueName.Webhooks] as const;

const HARDWARE = /^hardware\.[a-z0-9][a-z0-9-]{0,30}$/;

export function isHardwareQueue(name: string): name is HardwareQueueName {
  return HARDWARE.test(name);
}

/** `normal`, `priority`, or `hardware.<tag>` for a dedicated device (served with concurrency 1). */
export function assertQueueName(name: string): TaskQueueName {
  if (name === QueueName.Normal || name === QueueName.Priority || isHardwareQueue(name)) return name;
  throw Problems.badRequest(`unknown queue "${name}": use normal, priority or hardware.<tag>`, {
    errors: [`queue must be normal, priority or hardware.<tag>`],
  });
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

/**
 * Settings shared by every queue. A worker renews its lock every 2.5 s; a job whose lock lapsed (the worker died)
 * is found within 5 s and runs again elsewhere, instead of Bull's default 30 s lock and 30 s stall check.
 */
export const QUEUE_SETTINGS: NonNullable<QueueOptions['settings']> = { lockDuration: 10_000, lockRenewTime: 2_500, stalledInterval: 5_000, maxStalledCount: 2 };

/** The heartbeat key of one worker (and, with `*`, the pattern of all of them). */
export function workerKey(prefix: string, workerId: string): string {
  return `${prefix}:workers:${workerId}`;
}
