import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ProblemError, Problems } from '../common/problem';
import { enforceServiceState, ServiceState } from '../common/service-state';
import { Clock } from './clock';
import { addGrain, floorTo } from './usage-report';
import { UsageRepository } from './usage.repository';

/** What a change is about to add: bytes stored (minus what it frees), bytes ingested, and whether it runs a job. */
export interface Demand {
  /** Bytes the change stores. */
  disc?: number;
  /** Bytes it frees at the same time (the old content of a replaced file). */
  releasing?: number;
  /** Count the declared lengths of unfinished uploads as used (a new resumable upload reserves its length). */
  reservations?: boolean;
  /** Bytes it ingests this month. */
  ingest?: number;
  /** A job is about to run: refused once this month's job runtime reached its quota. */
  job?: boolean;
}

interface Limits {
  serviceId: string;
  containerId: string;
  state: ServiceState;
  service: { disc: number | null; ingest: number | null; jobruntime: number | null };
  container: { disc: number | null; ingest: number | null; jobruntime: number | null };
}

type QuotaName = 'diskQuota' | 'ingestQuota' | 'jobruntimeQuota';
const METRIC: Record<QuotaName, 'disc' | 'ingest' | 'jobruntime'> = { diskQuota: 'disc', ingestQuota: 'ingest', jobruntimeQuota: 'jobruntime' };

/**
 * The management limits of a service and its container: bytes stored (`diskQuota`) and, per calendar month (UTC),
 * bytes ingested (`ingestQuota`) and job runtime in seconds (`jobruntimeQuota`). Checked inside the transaction of
 * the change, with the service row (and the container row, when the container has limits) locked, against the
 * usage those same transactions record: concurrent changes are serialised and can never jointly overshoot.
 */
@Injectable()
export class QuotaService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly usage: UsageRepository,
  ) {}

  /**
   * Throws the problem naming the quota, its limit and the use, when the change would exceed one. A change that
   * stores or ingests bytes locks the service row, then the container's when it has limits (the order a
   * container's deletion takes them in), until its commit; a job check (`job` alone) reads without locking:
   * runtime is only known afterwards, so nothing is reserved.
   */
  async enforce(manager: EntityManager, serviceId: string, demand: Demand): Promise<void> {
    const locking = demand.disc !== undefined || demand.ingest !== undefined;
    const limits = await this.limitsOf(manager, serviceId, locking);
    if (limits) await this.checkAll(manager, limits, demand, locking);
  }

  /**
   * The quota check of a change that stores or ingests bytes, for the common case, as a guard inside the change's own
   * statement: it holds (and locks the service row FOR SHARE, as `enforce` would) when neither the service nor its
   * container has a disk or ingest quota; when it does not, the caller runs `enforce` instead, in a transaction.
   */
  noQuotaGuard(serviceId: string, firstParam: number): { sql: string; params: unknown[] } {
    return this.usage.noQuotaGuard(serviceId, firstParam);
  }

  /** One read: the service's and its container's limits and state; the service row locked when locking. */
  private async limitsOf(manager: EntityManager, serviceId: string, lock: boolean): Promise<Limits | undefined> {
    const row = await this.usage.limitsOf(serviceId, lock, manager);
    if (!row) return undefined;
    return {
      serviceId,
      containerId: row.containerId,
      state: { suspended: row.suspended, containerSuspended: row.containerSuspended, startsAt: row.startsAt, endsAt: row.endsAt },
      service: row.service,
      container: row.container,
    };
  }

  private async checkAll(manager: EntityManager, limits: Limits, demand: Demand, locking: boolean): Promise<void> {
    const wanted = (level: 'service' | 'container'): QuotaName[] => {
      const set = limits[level];
      return [
        ...(set.disc !== null && (demand.disc ?? 0) > (demand.releasing ?? 0) ? (['diskQuota'] as const) : []),
        ...(set.ingest !== null && (demand.ingest ?? 0) > 0 ? (['ingestQuota'] as const) : []),
        ...(set.jobruntime !== null && demand.job ? (['jobruntimeQuota'] as const) : []),
      ];
    };
    const checks = { service: wanted('service'), container: wanted('container') };
    if (locking && checks.container.length) await this.usage.lockContainerForQuota(limits.containerId, manager);
    for (const level of ['service', 'container'] as const) {
      if (checks[level].length === 0) continue;
      const use = await this.use(
        manager,
        level === 'service' ? { serviceId: limits.serviceId } : { containerId: limits.containerId },
        demand.reservations ?? false,
      );
      for (const quota of checks[level]) this.check(level, quota, limits[level][METRIC[quota]]!, use, demand);
    }
  }

  private check(level: 'service' | 'container', quota: QuotaName, limit: number, use: Use, demand: Demand): void {
    const scope = level === 'service' ? "the service's" : "the container's";
    if (quota === 'diskQuota') {
      const adding = (demand.disc ?? 0) - (demand.releasing ?? 0);
      const used = use.disc + use.reserved;
      if (used + adding > limit) {
        throw new ProblemError(
          507,
          'quota-exceeded',
          'Insufficient Storage',
          `storing ${adding} more bytes would exceed ${scope} disk quota (limit ${limit} bytes, ${used} in use): nothing was stored`,
          {
            quota: { name: quota, scope: level, limit, used: use.disc, ...(use.reserved ? { reservedByUploads: use.reserved } : {}), requested: adding },
          },
        );
      }
      return;
    }
    const resetsAt = addGrain('month', use.monthStart);
    const retryAfterSeconds = (resetsAt.getTime() - this.clock.now().getTime()) / 1000;
    if (quota === 'ingestQuota' && use.ingest + use.reserved + demand.ingest! > limit) {
      throw new ProblemError(
        429,
        'quota-exceeded',
        'Too Many Requests',
        `ingesting ${demand.ingest} more bytes would exceed ${scope} monthly ingest quota (limit ${limit} bytes, ${use.ingest + use.reserved} used this month): nothing was stored`,
        {
          quota: {
            name: quota,
            scope: level,
            limit,
            used: use.ingest,
            ...(use.reserved ? { reservedByUploads: use.reserved } : {}),
            requested: demand.ingest,
            period: 'month',
            resetsAt: resetsAt.toISOString(),
          },
          retryAfterSeconds,
        },
      );
    }
    if (quota === 'jobruntimeQuota' && use.jobruntime >= limit) {
      throw new ProblemError(
        429,
        'quota-exceeded',
        'Too Many Requests',
        `${scope} monthly job runtime quota is used up (limit ${limit} s, ${Number(use.jobruntime.toFixed(3))} s used this month): no job runs until ${resetsAt.toISOString()}`,
        {
          quota: { name: quota, scope: level, limit, used: use.jobruntime, period: 'month', resetsAt: resetsAt.toISOString() },
          retryAfterSeconds,
        },
      );
    }
  }

  /**
   * Bytes stored (all time), ingested and job seconds (this month), and bytes reserved by unfinished uploads: one
   * statement over the month rollups and the facts not rolled up yet.
   */
  private async use(manager: EntityManager, scope: { serviceId: string } | { containerId: string }, reservations: boolean): Promise<Use> {
    const monthStart = floorTo('month', this.clock.now());
    return { ...(await this.usage.use(scope, monthStart, reservations, manager)), monthStart };
  }

  /**
   * The limits on applications' own metrics (`app/<name>`) that apply to `metrics` for this service: its own and its
   * container's; undefined when none does (the common case: recording then takes no lock). With `manager`, the
   * service row is locked until the caller's commit, and the container's too when one of its limits applies, so that
   * concurrent records are serialised and never jointly overshoot.
   */
  async applicationLimits(serviceId: string, metrics: string[], manager?: EntityManager): Promise<ApplicationLimits | undefined> {
    const row = await this.usage.appQuotasOf(serviceId, manager !== undefined, manager);
    // deleted while this record waited for its row: nothing may be recorded for it
    if (!row) {
      if (manager) throw Problems.notFound('service', serviceId);
      return undefined;
    }
    // own, numeric entries only: a metric named like an Object.prototype member (valueOf) is no limit's name
    const pick = (set: Record<string, number> | null) =>
      new Map(
        metrics.filter((metric) => set !== null && Object.hasOwn(set, metric) && typeof set[metric] === 'number').map((metric) => [metric, set![metric]]),
      );
    const limits = { serviceId, containerId: row.containerId, service: pick(row.service), container: pick(row.container) };
    if (limits.service.size === 0 && limits.container.size === 0) return undefined;
    if (manager && limits.container.size) await this.usage.lockContainerForQuota(row.containerId, manager);
    return limits;
  }

  /**
   * After the caller recorded `added` (what was new: metric without `app/`, value, when) under the locks
   * `applicationLimits` took: throws the problem naming the first limit whose month's use now exceeds it (the
   * caller's transaction then records nothing). Each fact counts in the month it is dated in: a fact dated last month
   * is checked against last month's use, so backdating does not escape a limit.
   */
  async enforceApplication(manager: EntityManager, limits: ApplicationLimits, added: Array<{ metric: string; value: number; at: Date }>): Promise<void> {
    const months = new Map<number, Map<string, number>>();
    for (const fact of added) {
      const month = floorTo('month', fact.at).getTime();
      const sums = months.get(month) ?? new Map<string, number>();
      sums.set(fact.metric, (sums.get(fact.metric) ?? 0) + fact.value);
      months.set(month, sums);
    }
    for (const [month, sums] of months) {
      const monthStart = new Date(month);
      const monthEnd = addGrain('month', monthStart);
      const current = floorTo('month', this.clock.now()).getTime() === month;
      for (const level of ['service', 'container'] as const) {
        const limited = [...limits[level].keys()].filter((metric) => (sums.get(metric) ?? 0) > 0);
        if (limited.length === 0) continue;
        const scope = level === 'service' ? { serviceId: limits.serviceId } : { containerId: limits.containerId };
        const use = await this.usage.monthlyUse(
          scope,
          limited.map((metric) => `app/${metric}`),
          monthStart,
          monthEnd,
          manager,
        );
        for (const metric of limited) {
          const limit = limits[level].get(metric)!;
          const now = use.get(`app/${metric}`) ?? 0;
          if (now <= limit) continue;
          const requested = sums.get(metric)!;
          const used = now - requested;
          const when = current ? 'this month' : `in ${monthStart.toISOString().slice(0, 7)}`;
          throw new ProblemError(
            429,
            'quota-exceeded',
            'Too Many Requests',
            `recording ${requested} more app/${metric} would exceed ${level === 'service' ? "the service's" : "the container's"} monthly quota for it (limit ${limit}, ${used} used ${when}): nothing was recorded`,
            {
              quota: {
                name: `app/${metric}`,
                scope: level,
                limit,
                used,
                requested,
                period: 'month',
                month: monthStart.toISOString(),
                resetsAt: monthEnd.toISOString(),
              },
              ...(current ? { retryAfterSeconds: (monthEnd.getTime() - this.clock.now().getTime()) / 1000 } : {}),
            },
          );
        }
      }
    }
  }

  /**
   * Why a job of this service may not start now, or undefined: the same suspension and time-window rules as
   * requests (no key can lift them for a task), then the monthly job-runtime quota. One read when no quota is set.
   */
  async jobRefusal(serviceId: string): Promise<string | undefined> {
    const limits = await this.limitsOf(this.dataSource.manager, serviceId, false);
    if (!limits) return 'the service was deleted';
    try {
      const target = {
        type: 'service' as const,
        id: serviceId,
        ancestors: new Set<string>(),
        containerId: limits.containerId,
        serviceId,
        service: limits.state,
      };
      enforceServiceState(target, 'task:run', new Set(), this.clock.now());
      await this.checkAll(this.dataSource.manager, limits, { job: true }, false);
    } catch (error) {
      if (error instanceof ProblemError) return `${error.detail ?? error.title}: its tasks do not run`;
      throw error;
    }
    return undefined;
  }
}

/** The limits on applications' metrics that apply to one record: by metric name (without `app/`), per level. */
export interface ApplicationLimits {
  serviceId: string;
  containerId: string;
  service: Map<string, number>;
  container: Map<string, number>;
}

interface Use {
  disc: number;
  ingest: number;
  jobruntime: number;
  reserved: number;
  monthStart: Date;
}
