import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ROLLUP_GRAINS } from './usage-report';
import { UsageRepository } from './usage.repository';

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
    private readonly usage: UsageRepository,
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
    // with lower ids are the next round's.
    let after = '0';
    for (;;) {
      const count = await this.dataSource.transaction(async (manager) => {
        if (!(await this.usage.tryRollupTurn(ROLLUP_LOCK, manager))) return -1;
        const batchMoved = await this.usage.rollUpBatch(ROLLUP_GRAINS, batch, after, manager);
        if (batchMoved.last) after = batchMoved.last;
        return batchMoved.moved;
      });
      if (count < 0) return moved;
      moved += count;
      if (count < batch) return moved;
    }
  }
}
