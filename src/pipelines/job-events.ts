import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Problems } from '../common/problem';
import { REDIS_CLIENT, RedisConnections } from '../redis/redis-connections';
import type { ServiceEvent } from '../webhooks/service-event';

/** What changed about a job: its state, or its progress while running. */
export interface JobEvent {
  jobId: string;
  serviceId: string;
  state: string;
  progress?: number;
  error?: string | null;
  at: string;
}

type Listener = (event: JobEvent) => void;
type ServiceEventListener = (event: ServiceEvent) => void;
/** Topics: `job:<id>` and `service:<id>` carry job events, `events:<serviceId>` a service's other events. */
type AnyListener = (event: JobEvent & ServiceEvent) => void;

/**
 * Job state and progress changes, across processes, over Redis pub/sub: workers publish, api processes relay to
 * Server-Sent Events clients. One subscriber connection per process however many clients listen. Best effort by
 * design (a client reads the job first, then follows the events), never a source of truth.
 */
@Injectable()
export class JobEvents implements OnApplicationShutdown {
  private readonly logger = new Logger('job-events');
  private readonly channel: string;
  private subscriber?: Redis;
  private subscribing?: Promise<void>;
  private readonly commandTimeoutMs: number;
  private readonly listeners = new Map<string, Set<AnyListener>>();

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly connections: RedisConnections,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.channel = `${config.queuePrefix}:job-events`;
    this.commandTimeoutMs = config.redisCommandTimeoutMs;
  }

  publish(...events: Array<Omit<JobEvent, 'at'>>): void {
    this.publishAll(events, []);
  }

  /**
   * Job changes and other events of one change (an upload's facts, queued steps and its file's creation, the steps
   * of a batch) as one message, so one PUBLISH and one delivery to each subscribing process instead of one per
   * event: a job event alone as itself, several as an array, with service events `{jobEvents, serviceEvents}`.
   */
  publishAll(jobEvents: Array<Omit<JobEvent, 'at'>>, serviceEvents: ServiceEvent[]): void {
    if (jobEvents.length === 0 && serviceEvents.length === 0) return;
    const at = new Date().toISOString();
    const stamped = jobEvents.map((event) => ({ ...event, at }));
    const message = serviceEvents.length ? { jobEvents: stamped, serviceEvents } : stamped.length === 1 ? stamped[0] : stamped;
    this.redis.publish(this.channel, JSON.stringify(message)).catch((error: unknown) => this.logger.debug(`publish failed: ${String(error)}`));
  }

  /** Calls `listener` for every other event of `serviceId` (not its jobs') until the returned function is called. */
  followServiceEvents(serviceId: string, listener: ServiceEventListener): Promise<() => void> {
    return this.listen(`events:${serviceId}`, listener);
  }

  /** Calls `listener` for every event of `jobId` until the returned function is called. */
  follow(jobId: string, listener: Listener): Promise<() => void> {
    return this.listen(`job:${jobId}`, listener);
  }

  /** Calls `listener` for every event of every job of `serviceId` until the returned function is called. */
  followService(serviceId: string, listener: Listener): Promise<() => void> {
    return this.listen(`service:${serviceId}`, listener);
  }

  private async listen(topic: string, listener: Listener | ServiceEventListener): Promise<() => void> {
    await this.ensureSubscribed();
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(topic);
    };
  }

  private deliver(topic: string, event: JobEvent | ServiceEvent): void {
    for (const listener of this.listeners.get(topic) ?? []) listener(event as JobEvent & ServiceEvent);
  }

  /**
   * The one subscription of this process, on a connection of its own: ioredis renews it by itself each time that
   * connection comes back (a restarted Redis), so streams already open keep receiving events. A stream opened while
   * Redis is down is refused with a 503 (within REDIS_COMMAND_TIMEOUT_MS), not held open without events; the next
   * one tries again.
   */
  private async ensureSubscribed(): Promise<void> {
    if (!this.subscriber) {
      const subscriber = this.connections.dedicated('job-events');
      this.subscriber = subscriber;
      subscriber.on('message', (_channel: string, message: string) => {
        let events: JobEvent[];
        try {
          const parsed = JSON.parse(message) as JobEvent | JobEvent[] | { jobEvents: JobEvent[]; serviceEvents: ServiceEvent[] };
          if ('serviceEvents' in parsed) {
            for (const event of parsed.serviceEvents) this.deliver(`events:${event.serviceId}`, event);
            events = parsed.jobEvents;
          } else events = Array.isArray(parsed) ? parsed : [parsed];
        } catch {
          return;
        }
        for (const event of events) {
          this.deliver(`job:${event.jobId}`, event);
          this.deliver(`service:${event.serviceId}`, event);
        }
      });
      // queued until connected (the connection waits for Redis, as subscribers must); renewed after every reconnect
      this.subscribing = subscriber.subscribe(this.channel).then(() => undefined);
      this.subscribing.catch(() => undefined);
    }
    const subscriber = this.subscriber;
    let timer: NodeJS.Timeout | undefined;
    const unavailable = () => Problems.unavailable('Redis is unavailable right now: job events cannot be followed; retry later', { dependency: 'redis' });
    await Promise.race([this.subscribing, new Promise((_, reject) => (timer = setTimeout(() => reject(unavailable()), this.commandTimeoutMs)))]).finally(() =>
      clearTimeout(timer),
    );
    if (subscriber.status !== 'ready') throw unavailable();
  }

  async onApplicationShutdown(): Promise<void> {
    this.listeners.clear();
    this.subscriber?.disconnect();
  }
}
