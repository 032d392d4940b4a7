import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../keys/authorize.decorator';
import { APP_CONFIG, AppConfig } from '../config/config';
import { DatabaseHealth } from '../database/database-health';
import { workerKey } from '../queues/queue-catalogue';
import type Redis from 'ioredis';
import { REDIS_CLIENT } from '../redis/redis-connections';
import { BlobStore } from '../storage/blob-store';

type CheckResult = { status: 'up' | 'down'; latencyMs: number; error?: string };

async function check(probe: () => Promise<unknown>, timeoutMs = 3000): Promise<CheckResult> {
  const started = performance.now();
  try {
    await Promise.race([probe(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref())]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  }
}

/** Liveness: the process answers. Readiness: PostgreSQL, Redis and the storage folder all work right now. */
@ApiExcludeController()
@Controller('health')
export class HealthController {
  private shuttingDown = false;

  constructor(
    private readonly database: DatabaseHealth,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly store: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  @Get('live')
  @Public()
  live() {
    return { status: 'up' };
  }

  @Get('ready')
  @Public()
  async ready(@Res() response: Response) {
    const checks = {
      database: await check(() => this.database.ping()),
      redis: await check(async () => {
        const client = this.redis;
        if ((await client.ping()) !== 'PONG') throw new Error('unexpected PING answer');
      }),
      storage: await check(() => this.store.probe()),
    };
    const up = !this.shuttingDown && Object.values(checks).every((result) => result.status === 'up');
    // Workers report themselves through short-lived heartbeat keys; informative, not a readiness condition
    // (an api without workers still accepts uploads, and jobs wait in Redis).
    const workers = checks.redis.status === 'up' ? await this.workersOnline().catch(() => null) : null;
    response.status(up ? 200 : 503).json({ status: up ? 'up' : this.shuttingDown ? 'shutting-down' : 'down', checks, workers });
  }

  private async workersOnline(): Promise<number> {
    const client = this.redis;
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', workerKey(this.config.queuePrefix, '*'), 'COUNT', 1000);
      cursor = next;
      count += keys.length;
    } while (cursor !== '0');
    return count;
  }
}
