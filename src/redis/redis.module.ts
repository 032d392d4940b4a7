import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { commandConnectionOptions, REDIS_CLIENT, RedisConnections, redisOptions } from './redis-connections';
import { RateLimits } from './rate-limits';

/** The one Redis connection factory of a process; every Redis user imports this module and says so. */
@Module({
  providers: [
    {
      provide: RedisConnections,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new RedisConnections(redisOptions(config), commandConnectionOptions(config.redisCommandTimeoutMs)),
    },
    { provide: REDIS_CLIENT, inject: [RedisConnections], useFactory: (connections: RedisConnections) => connections.client },
    RateLimits,
  ],
  exports: [RedisConnections, REDIS_CLIENT, RateLimits],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(RedisConnections) private readonly connections: RedisConnections) {}

  async onApplicationShutdown(): Promise<void> {
    await this.connections.close();
  }
}
