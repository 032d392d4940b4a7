/** What GET /api/v1/queues answers (the provider's queue view); plain types, free of Nest, so the console reads them too. */

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  paused: number;
}

export interface QueueState {
  name: string;
  /** `task`: normal, priority and hardware.<tag> queues that run jobs; `internal`: periodic ticks and webhook deliveries. */
  kind: 'task' | 'internal';
  /** null when the counts could not be read (the reason is in `error`). */
  counts: QueueCounts | null;
  error?: string;
  /** Workers online that consume this queue, and their summed concurrency. */
  workers: number;
  concurrency: number;
}

export interface WorkerState {
  id: string;
  queues: Array<{ queue: string; concurrency: number }>;
  /** The worker's last heartbeat (it beats every 5 s; its key lapses 15 s after the last one). */
  lastSeen: string;
}

export interface QueuesStatus {
  at: string;
  queues: QueueState[];
  workers: WorkerState[];
}
