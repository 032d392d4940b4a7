/**
 * Jobs that became runnable inside a transaction. They are put on their queues only after it commits, so a worker
 * never receives a job the database does not have yet; if the process dies in between, the reconciler finds them.
 */
export class JobOutbox {
  readonly items: Array<{ id: string; queue: string }> = [];

  add(...jobs: Array<{ id: string; queue: string }>): void {
    this.items.push(...jobs);
  }
}
