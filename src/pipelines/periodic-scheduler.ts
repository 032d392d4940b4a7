import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { PeriodicTick, QueueName } from '../queues/queue-catalogue';
import { QueueRegistry } from '../queues/queue-registry';
import { ProfileDefinition } from './profile';
import { ProfileRepository } from './profile.repository';

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
    private readonly profiles: ProfileRepository,
    private readonly queues: QueueRegistry,
  ) {}

  /** The ticks' queue (not a job queue: its payload is a service, not a job id). */
  queue(): Queue<PeriodicTick> {
    return this.queues.get(QueueName.Scheduler);
  }

  /** Makes Redis hold exactly the schedule the profile says (none, or its cron), replacing an older one. */
  async sync(serviceId: string, definition: ProfileDefinition | undefined): Promise<void> {
    const queue = this.queue();
    const schedule = definition?.periodic?.steps.length ? definition.periodic.schedule : undefined;
    for (const repeatable of await queue.getRepeatableJobs()) {
      if (repeatable.id === tickId(serviceId) && (repeatable.cron !== schedule || repeatable.tz !== 'UTC')) await queue.removeRepeatableByKey(repeatable.key);
    }
    if (schedule) {
      await this.queues.add(QueueName.Scheduler, { serviceId }, { jobId: tickId(serviceId), repeat: { cron: schedule, tz: 'UTC' } });
    }
  }

  /** Registers every schedule PostgreSQL knows (idempotent: an existing repeatable is not added twice). */
  async syncAll(): Promise<number> {
    // what each service runs: its selected container profile, else its own
    const rows = await this.profiles.periodicDefinitions();
    for (const row of rows) await this.sync(row.serviceId, row.definition);
    return rows.length;
  }

  async remove(serviceId: string): Promise<void> {
    await this.sync(serviceId, undefined).catch((error) => this.logger.warn(`could not remove the schedule of service ${serviceId}: ${String(error)}`));
  }
}
