import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Usage } from './usage.entity';

export type Metric = 'disc' | 'ingest' | 'access' | 'jobs' | 'jobruntime' | 'jobbytes' | 'corruption' | 'dataloss' | 'containers' | 'services' | 'mfiles' | `task/${string}`;

export interface UsageFact {
  metric: Metric;
  value: number;
  containerId: string | null;
  serviceId: string | null;
  resourceType?: 'mfile' | 'job' | 'joboutput' | 'container' | 'service';
  resourceId?: string | null;
  /** Same key twice records once: retried requests and jobs cannot double-count. */
  idempotencyKey?: string;
  recordedAt?: Date;
}

/**
 * The recording hook: called where the metered thing happens, with that change's transaction manager, so the
 * fact commits or rolls back with it. Aggregation, quotas and reports build on these rows.
 */
@Injectable()
export class UsageService {
  async record(manager: EntityManager, ...facts: UsageFact[]): Promise<void> {
    const rows = facts
      .filter((fact) => fact.value !== 0)
      .map((fact) => ({
        metric: fact.metric,
        value: fact.value,
        containerId: fact.containerId,
        serviceId: fact.serviceId,
        resourceType: fact.resourceType ?? null,
        resourceId: fact.resourceId ?? null,
        idempotencyKey: fact.idempotencyKey ?? null,
        ...(fact.recordedAt ? { recordedAt: fact.recordedAt } : {}),
      }));
    if (rows.length === 0) return;
    await manager.createQueryBuilder().insert().into(Usage).values(rows).orIgnore().execute();
  }
}
