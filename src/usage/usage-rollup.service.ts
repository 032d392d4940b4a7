import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { NIL_UUID } from './usage-query.service';
import { ROLLUP_GRAINS } from './usage-report';

/** One advisory lock for the whole platform: one roller at a time (any process), the others skip their turn. */
const ROLLUP_LOCK = 0x6d736572; // 'mser'

/**
 * Moves facts into the daily and monthly rollups. Each batch flags its facts `rolled_up` and adds them to
 * the rollups in one statement, so a fact is counted by a query either raw or rolled up, never both or neither;
 * queries read rollups plus the (few) facts still unflagged, so they are exact at any moment.
 */
@Injectable()
export class UsageRollupService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('usage');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.usageRollupIntervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.rollUp()).catch((error) => this.logger.warn(`usage rollup failed, retried next round: ${String(error)}`));
    }, this.config.usageRollupIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Rolls up every fact waiting, in batches; returns how many it moved (0 when another process holds the turn). */
  async rollUp(batch = 50_000): Promise<number> {
    let moved = 0;
    // each batch starts after the last one's highest id: the index entries of facts just flagged stay behind
    // until vacuum, and a scan from the start would wade through all of them again. Facts committed meanwhile
    // with lower ids are the next round's. `= ANY(ARRAY(...))`, not `IN (...)`: with IN the planner hashes the
    // batch and scans the whole table for every batch (measured: 4 k facts/s on 10 million facts).
    let after = '0';
    for (;;) {
      const count = await this.dataSource.transaction(async (manager) => {
        const [{ ok }] = await manager.query('SELECT pg_try_advisory_xact_lock($1) AS ok', [ROLLUP_LOCK]);
        if (!ok) return -1;
        const grains = ROLLUP_GRAINS.map((grain) => `('${grain}')`).join(', ');
        const rows: Array<{ n: string; last: string | null }> = await manager.query(
          `WITH moved AS (
             UPDATE usage SET rolled_up = true
              WHERE id = ANY(ARRAY(SELECT id FROM usage WHERE NOT rolled_up AND id > $2 ORDER BY id LIMIT $1))
              RETURNING id, metric, value, COALESCE(container_id, '${NIL_UUID}') AS container_id, COALESCE(service_id, '${NIL_UUID}') AS service_id, recorded_at
           ), placed AS (
             SELECT g.grain, m.metric, m.value, m.container_id, m.service_id, m.recorded_at,
                    (date_trunc(g.grain, m.recorded_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS bucket,
                    ((date_trunc(g.grain, m.recorded_at AT TIME ZONE 'UTC') + ('1 ' || g.grain)::interval) AT TIME ZONE 'UTC') AS bucket_end
               FROM moved m CROSS JOIN (VALUES ${grains}) AS g(grain)
           ), added AS (
             INSERT INTO usage_rollup (grain, service_id, metric, bucket, container_id, sum, count, min, max, sum_sq, sum_rest)
             SELECT grain, service_id, metric, bucket, container_id, SUM(value), COUNT(*), MIN(value), MAX(value), SUM(value * value),
                    SUM(value * extract(epoch FROM bucket_end - recorded_at) / 3600.0)
               FROM placed GROUP BY grain, service_id, metric, bucket, container_id
             ON CONFLICT (grain, service_id, metric, bucket, container_id) DO UPDATE SET
               sum = usage_rollup.sum + EXCLUDED.sum, count = usage_rollup.count + EXCLUDED.count,
               min = LEAST(usage_rollup.min, EXCLUDED.min), max = GREATEST(usage_rollup.max, EXCLUDED.max),
               sum_sq = usage_rollup.sum_sq + EXCLUDED.sum_sq, sum_rest = usage_rollup.sum_rest + EXCLUDED.sum_rest
           )
           SELECT COUNT(*) AS n, MAX(id) AS last FROM moved`,
          [batch, after],
        );
        if (rows[0].last) after = rows[0].last;
        return Number(rows[0].n);
      });
      if (count < 0) return moved;
      moved += count;
      if (count < batch) return moved;
    }
  }
}
