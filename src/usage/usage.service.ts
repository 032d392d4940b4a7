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
    // One plain multi-row INSERT: this runs in every upload and every job, where the query builder's cost shows.
    const columns = ['metric', 'value', 'container_id', 'service_id', 'resource_type', 'resource_id', 'idempotency_key', 'recorded_at'];
    const values: unknown[] = [];
    const tuples = rows.map((row) => {
      const at = values.length;
      values.push(row.metric, row.value, row.containerId, row.serviceId, row.resourceType, row.resourceId, row.idempotencyKey, 'recordedAt' in row ? row.recordedAt : null);
      return `(${columns.map((_, index) => (index === 7 ? `COALESCE($${at + index + 1}::timestamptz, now())` : `$${at + index + 1}`)).join(', ')})`;
    });
    await manager.query(`INSERT INTO ${manager.connection.getMetadata(Usage).tableName} (${columns.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`, values);
  }
}
