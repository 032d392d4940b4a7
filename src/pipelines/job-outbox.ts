import type { JobEvent } from './job-events';

/**
 * What a transaction did to jobs, to act on only after it commits: jobs that became runnable (put on their queues,
 * so a worker never receives a job the database does not have yet; if the process dies in between, the reconciler
 * finds them) and state changes to announce.
 */
export class JobOutbox {
  readonly items: Array<{ id: string; queue: string; serviceId: string }> = [];
  readonly events: Array<Omit<JobEvent, 'at'>> = [];

  add(...jobs: Array<{ id: string; queue: string; serviceId: string }>): void {
    this.items.push(...jobs);
  }

  announce(...events: Array<Omit<JobEvent, 'at'>>): void {
    this.events.push(...events);
  }
}
