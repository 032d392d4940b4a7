import type { JobEvent } from './job-events';
import type { NewServiceEvent } from './service-events';

/**
 * A job that became runnable. Its `runId` (the pipeline run it belongs to; none for a manual job) lets the steps of
 * one run that are runnable together on one queue travel in one message.
 */
export interface OutboxJob {
  id: string;
  queue: string;
  serviceId: string;
  runId?: string | null;
}

/**
 * What a transaction did to jobs, to act on only after it commits: jobs that became runnable (put on their queues,
 * so a worker never receives a job the database does not have yet; if the process dies in between, the reconciler
 * finds them) and state changes to announce.
 */
export class JobOutbox {
  readonly items: OutboxJob[] = [];
  readonly events: Array<Omit<JobEvent, 'at'>> = [];

  add(...jobs: OutboxJob[]): void {
    this.items.push(...jobs);
  }

  announce(...events: Array<Omit<JobEvent, 'at'>>): void {
    this.events.push(...events);
  }

  /** Other events of the service the same change makes (a file created), told with its jobs' after commit. */
  readonly serviceEvents: NewServiceEvent[] = [];

  tell(...events: NewServiceEvent[]): void {
    this.serviceEvents.push(...events);
  }
}
