import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import { QueueRegistry } from '../queues/queue-registry';
import { EFFECTIVE_PROFILE } from './profile.entity';
import { ProfileDefinition } from './profile';

/** The internal queue that carries the ticks of periodic pipelines; every worker serves it. */
export const SCHEDULER_QUEUE = 'scheduler';

export interface PeriodicTick {
  serviceId: string;
}

// no ':' in it: Bull splits repeatable keys on ':'
const tickId = (serviceId: string) => `periodic-${serviceId}`;

/**
 * One Bull repeatable job per service with a periodic pipeline. Bull keys a repeatable by name, id and cron, and
 * keeps one delayed job per tick in Redis, so a schedule fires once per tick however many api and worker processes
 * run, and survives their restarts; if Redis itself loses it, the reconciler registers it again from PostgreSQL.
 */
@Injectable()
export class PeriodicScheduler {
  private readonly logger = new Logger('scheduler');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queues: QueueRegistry,
  ) {}

  /** The ticks' queue (not a job queue: its payload is a service, not a job id). */
  queue(): Queue<PeriodicTick> {
    return this.queues.get(SCHEDULER_QUEUE) as unknown as Queue<PeriodicTick>;
  }

  /** Makes Redis hold exactly the schedule the profile says (none, or its cron), replacing an older one. */
  async sync(serviceId: string, definition: ProfileDefinition | undefined): Promise<void> {
    const queue = this.queue();
    const schedule = definition?.periodic?.steps.length ? definition.periodic.schedule : undefined;
    for (const repeatable of await queue.getRepeatableJobs()) {
      if (repeatable.id === tickId(serviceId) && (repeatable.cron !== schedule || repeatable.tz !== 'UTC')) await queue.removeRepeatableByKey(repeatable.key);
    }
    if (schedule) {
      await queue.add({ serviceId } satisfies PeriodicTick, { jobId: tickId(serviceId), repeat: { cron: schedule, tz: 'UTC' }, removeOnComplete: 100, removeOnFail: 100 });
    }
  }

  /** Registers every schedule PostgreSQL knows (idempotent: an existing repeatable is not added twice). */
  async syncAll(): Promise<number> {
    // what each service runs: its selected container profile, else its own
    const rows: Array<{ serviceId: string; definition: ProfileDefinition }> = await this.dataSource.query(
      `SELECT "serviceId", COALESCE(selected, own) AS definition FROM (${EFFECTIVE_PROFILE}) e WHERE COALESCE(selected, own) ? 'periodic'`,
    );
    for (const row of rows) await this.sync(row.serviceId, row.definition);
    return rows.length;
  }

  async remove(serviceId: string): Promise<void> {
    await this.sync(serviceId, undefined).catch((error) => this.logger.warn(`could not remove the schedule of service ${serviceId}: ${String(error)}`));
  }
}
