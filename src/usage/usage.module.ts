import { Module } from '@nestjs/common';
import { Clock } from './clock';
import { QuotaService } from './quota.service';
import { UsageQueryService } from './usage-query.service';
import { UsageRollupService } from './usage-rollup.service';
import { UsageController } from './usage.controller';
import { UsageService } from './usage.service';

/** Metering for both roles: recording, rollups, reports and the quotas built on them. */
@Module({
  controllers: [UsageController],
  providers: [Clock, UsageService, UsageQueryService, UsageRollupService, QuotaService],
  exports: [Clock, UsageService, UsageQueryService, UsageRollupService, QuotaService],
})
export class UsageModule {}
