import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ProblemError } from '../common/problem';
import { UnitOfWork } from '../database/unit-of-work';
import { Clock } from './clock';
import { QuotaService } from './quota.service';
import { UsageQueryService } from './usage-query.service';
import { GAUGES } from './usage-report';
import { UsageRepository } from './usage.repository';

export type Metric =
  | 'disc'
  | 'ingest'
  | 'access'
  | 'jobs'
  | 'jobruntime'
  | 'jobbytes'
  | 'corruption'
  | 'dataloss'
  | 'containers'
  | 'services'
  | 'mfiles'
  | `task/${string}`
  | `app/${string}`;

/**
 * Usage a task measured, recorded with its job's outcome (a backup copy's disc): about its input (`about`) or its
 * job, once per job and metric. The one format for it, whether the worker records the outcome or an upload's
 * commit records the task's step as a fact.
 */
export function taskReportedFact(
  job: { id: string; containerId: string; serviceId: string },
  inputId: string | null,
  fact: { metric: string; value: number; about?: 'mfile' | 'backup' },
): UsageFact {
  return {
    metric: fact.metric as Metric,
    value: fact.value,
    containerId: job.containerId,
    serviceId: job.serviceId,
    resourceType: fact.about ?? 'job',
    resourceId: fact.about ? inputId : job.id,
    idempotencyKey: `${job.id}:task:${fact.about ?? 'job'}:${fact.metric}`,
  };
}

/** A metric an application records about its own use of a service or a file (POST /services/:id/usage). */
export interface ApplicationFact {
  /** Its own name; recorded as `app/<name>`, so it never mixes with MServe's metrics. */
  metric: string;
  value: number;
  /** Unique per service (per file for a file's facts): the same key again records nothing (a retried request). */
  idempotencyKey: string;
  /** When it happened; now when left out. */
  at?: Date;
}

export interface UsageFact {
  metric: Metric;
  value: number;
  containerId: string | null;
  serviceId: string | null;
  resourceType?: 'mfile' | 'job' | 'joboutput' | 'backup' | 'container' | 'service';
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
  private readonly refusalListeners = new Set<(refusal: { serviceId: string; quota: unknown; mfileId?: string }) => void>();

  constructor(
    private readonly clock: Clock,
    private readonly query: UsageQueryService,
    private readonly usage: UsageRepository,
    private readonly quotas: QuotaService,
    private readonly unitOfWork: UnitOfWork,
  ) {}

  async record(manager: EntityManager, ...facts: UsageFact[]): Promise<void> {
    await this.usage.recordMany(this.rows(facts), manager);
  }

  /**
   * The same facts as a data-modifying statement for another repository's statement (an upload's commit writes its
   * Mfile, key, usage and jobs in one; `UsageRepository.recordManyStatement`). Undefined when there is nothing to record.
   */
  statement(facts: UsageFact[], firstParam: number, onlyIf: string): { sql: string; params: unknown[] } | undefined {
    return this.usage.recordManyStatement(this.rows(facts), firstParam, onlyIf);
  }

  /**
   * An application's facts about a service, or a file of it: metered like MServe's own (reports, CSV, rollups), under
   * `app/`, each idempotency key scoped to the service. Answers how many were new; repeated keys record nothing.
   */
  async recordApplication(
    scope: { containerId: string; serviceId: string; mfileId?: string },
    facts: ApplicationFact[],
  ): Promise<{ recorded: number; repeated: number }> {
    const rows = this.rows(
      facts.map((fact) => ({
        metric: `app/${fact.metric}` as const,
        value: fact.value,
        containerId: scope.containerId,
        serviceId: scope.serviceId,
        resourceType: scope.mfileId ? ('mfile' as const) : ('service' as const),
        resourceId: scope.mfileId ?? scope.serviceId,
        // scoped to what it is about: a file's key cannot take the keys its service's application uses
        idempotencyKey: `app:${scope.serviceId}:${scope.mfileId ?? 'service'}:${fact.idempotencyKey}`,
        ...(fact.at ? { recordedAt: fact.at } : {}),
      })),
      true,
    );
    const metrics = [...new Set(facts.map((fact) => fact.metric))];
    try {
      // the common case, no limit on these metrics: the insert alone, no transaction and no lock
      const recorded = !(await this.quotas.applicationLimits(scope.serviceId, metrics))
        ? (await this.usage.recordManyAdded(rows)).length
        : await this.unitOfWork.run(async ({ manager }) => {
            const limits = await this.quotas.applicationLimits(scope.serviceId, metrics, manager);
            const added = await this.usage.recordManyAdded(rows, manager);
            if (limits)
              await this.quotas.enforceApplication(
                manager,
                limits,
                added.map((fact) => ({ ...fact, metric: fact.metric.slice('app/'.length) })),
              );
            return added.length;
          });
      return { recorded, repeated: facts.length - recorded };
    } catch (error) {
      if (error instanceof ProblemError && error.code === 'quota-exceeded')
        for (const listener of this.refusalListeners) listener({ serviceId: scope.serviceId, quota: error.extra.quota, mfileId: scope.mfileId });
      throw error;
    }
  }

  /** Tells `listener` of every application record a quota refused (the service's engines hear of it as `quota.exceeded`). */
  onApplicationRefused(listener: (refusal: { serviceId: string; quota: unknown; mfileId?: string }) => void): void {
    this.refusalListeners.add(listener);
  }

  private rows(facts: UsageFact[], keepZeros = false) {
    return facts
      .filter((fact) => keepZeros || fact.value !== 0)
      .map((fact) => ({
        metric: fact.metric,
        value: fact.value,
        containerId: fact.containerId,
        serviceId: fact.serviceId,
        resourceType: fact.resourceType ?? null,
        resourceId: fact.resourceId ?? null,
        idempotencyKey: fact.idempotencyKey ?? null,
        recordedAt: fact.recordedAt ?? this.clock.now(),
      }));
  }

  /**
   * A service or container is being deleted: its gauges (bytes stored, files, the service and container counts)
   * drop to zero with it. Records, per service, the negative of each gauge's current level (rollups plus facts not rolled up yet, locked out of the
   * way by the caller's row lock on what is deleted).
   */
  async zeroGauges(manager: EntityManager, scope: { serviceId: string } | { containerId: string }): Promise<void> {
    const levels = await this.query.totals(manager, scope, [...GAUGES]);
    await this.record(
      manager,
      ...levels.map((row) => ({ metric: row.metric as Metric, value: -row.sum, containerId: row.containerId, serviceId: row.serviceId })),
    );
  }
}
