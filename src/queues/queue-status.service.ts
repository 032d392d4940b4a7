import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../config/config';
import { REDIS_CLIENT } from '../redis/redis-connections';
import { INTERNAL_QUEUES, isHardwareQueue, QueueName, workerKey } from './queue-catalogue';
import { QueueRegistry } from './queue-registry';
import type { QueueCounts, QueuesStatus, QueueState, WorkerState } from './queue-status';

export type { QueueCounts, QueuesStatus, QueueState, WorkerState };

/** How long a scan for hardware queues that hold jobs is reused: they appear rarely, and a scan reads every key. */
const DISCOVERY_TTL_MS = 30_000;

/**
 * What the provider's queue view shows, read from Redis: Bull's counts per queue and the workers' heartbeat keys
 * (written by WorkerService). The queues are normal and priority, every hardware.<tag> queue a worker serves or
 * that ever held a job (so a backlog on a device with no worker online shows), and the internal ones.
 */
@Injectable()
export class QueueStatusService {
  private discovered: { at: number; names: string[] } | null = null;

  constructor(
    private readonly queues: QueueRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
  ) {}

  async status(): Promise<QueuesStatus> {
    const [workers, hardware] = await Promise.all([this.workers(), this.hardwareQueues()]);
    const served = new Map<string, { workers: number; concurrency: number }>();
    for (const worker of workers) {
      for (const { queue, concurrency } of worker.queues) {
        const entry = served.get(queue) ?? { workers: 0, concurrency: 0 };
        served.set(queue, { workers: entry.workers + 1, concurrency: entry.concurrency + concurrency });
      }
    }
    const known = this.queues.all().map((queue) => queue.name);
    const taskNames = [QueueName.Normal, QueueName.Priority, ...[...new Set([...hardware, ...served.keys(), ...known])].filter(isHardwareQueue).sort()];
    const names: Array<[string, QueueState['kind']]> = [
      ...taskNames.map((name) => [name, 'task'] as [string, 'task']),
      ...INTERNAL_QUEUES.map((name) => [name, 'internal'] as [string, 'internal']),
    ];
    const queues = await Promise.all(
      names.map(async ([name, kind]): Promise<QueueState> => {
        const workersOn = kind === 'internal' ? { workers: workers.length, concurrency: 0 } : (served.get(name) ?? { workers: 0, concurrency: 0 });
        try {
          const counts = (await this.queues.get(name).getJobCounts()) as unknown as Partial<QueueCounts>;
          return {
            name,
            kind,
            counts: {
              waiting: counts.waiting ?? 0,
              active: counts.active ?? 0,
              delayed: counts.delayed ?? 0,
              failed: counts.failed ?? 0,
              completed: counts.completed ?? 0,
              paused: counts.paused ?? 0,
            },
            ...workersOn,
          };
        } catch (error) {
          return { name, kind, counts: null, error: error instanceof Error ? error.message : String(error), ...workersOn };
        }
      }),
    );
    return { at: new Date().toISOString(), queues, workers };
  }

  /** Keys matching a pattern, by SCAN (never KEYS: it blocks Redis while it walks the whole keyspace). */
  private async scan(pattern: string): Promise<string[]> {
    const client = this.redis;
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  }

  private async workers(): Promise<WorkerState[]> {
    const keys = await this.scan(workerKey(this.config.queuePrefix, '*'));
    if (keys.length === 0) return [];
    const values = await this.redis.mget(...keys);
    const workers: WorkerState[] = [];
    for (const value of values) {
      if (!value) continue; // lapsed between SCAN and MGET
      try {
        const beat = JSON.parse(value) as { id?: unknown; queues?: unknown; at?: unknown };
        if (typeof beat.id !== 'string' || !Array.isArray(beat.queues)) continue;
        const queues = beat.queues
          .filter((entry): entry is { queue: string; concurrency: number } => typeof entry?.queue === 'string' && typeof entry?.concurrency === 'number')
          .map(({ queue, concurrency }) => ({ queue, concurrency: queue.startsWith('hardware.') ? 1 : concurrency }));
        workers.push({ id: beat.id, queues, lastSeen: typeof beat.at === 'string' ? beat.at : new Date().toISOString() });
      } catch {
        // a key that is not a heartbeat of ours: not a worker
      }
    }
    return workers.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** hardware.<tag> queues that ever held a job: Bull increments `<prefix>:<queue>:id` on every add. */
  private async hardwareQueues(): Promise<string[]> {
    if (this.discovered && Date.now() - this.discovered.at < DISCOVERY_TTL_MS) return this.discovered.names;
    const prefix = `${this.config.queuePrefix}:`;
    const names = (await this.scan(`${prefix}hardware.*:id`)).map((key) => key.slice(prefix.length, -':id'.length)).filter(isHardwareQueue);
    this.discovered = { at: Date.now(), names };
    return names;
  }
}
