import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { Nullable, Optional } from '../common/api-responses';
import type { UsageReport } from './usage-query.service';
import type { BucketFigures, Bucketing, Grain, Series } from './usage-report';
import type { GroupBy } from './usage.repository';

/** One bucket's figures (or a series' total). */
@ApiSchema({ name: 'UsageFigures' })
export class UsageFiguresSchema implements BucketFigures {
  @ApiProperty({ format: 'date-time' }) start: string;
  @ApiProperty({ format: 'date-time', description: 'Exclusive' }) end: string;
  @ApiProperty() sum: number;
  @ApiProperty({ description: 'How many facts' }) count: number;
  @Nullable({ type: Number }) min: number | null;
  @Nullable({ type: Number }) max: number | null;
  @Nullable({ type: Number }) mean: number | null;
  @Nullable({ type: Number, description: 'Population standard deviation of the recorded values' }) stddev: number | null;
  @Optional({ description: 'Gauges only: the level at the end of the bucket' }) level?: number;
  @Optional({ description: 'Gauges only: the level integrated over the bucket, in unit-hours (byte-hours for disc)' }) levelHours?: number;
}

@ApiSchema({ name: 'UsageGroup' })
class UsageGroupSchema {
  @ApiProperty({ enum: ['container', 'service'] }) type: 'container' | 'service';
  @Nullable({ type: String, format: 'uuid' }) id: string | null;
}

/** One metric (for one group, with groupBy) over the report's range. */
@ApiSchema({ name: 'UsageSeries' })
export class UsageSeriesSchema implements Series {
  @ApiProperty({ example: 'disc', description: 'disc, ingest, access, jobs, jobruntime, task/<name>/success, app/<name>...' }) metric: string;
  @Nullable({ type: UsageGroupSchema }) group: UsageGroupSchema | null;
  @ApiProperty({ type: UsageFiguresSchema }) total: UsageFiguresSchema;
  @ApiProperty({ type: [UsageFiguresSchema] }) buckets: UsageFiguresSchema[];
}

@ApiSchema({ name: 'UsageResource' })
class UsageResourceSchema {
  @ApiProperty({ enum: ['provider', 'container', 'service', 'mfile', 'job', 'joboutput'] }) type: string;
  @Nullable({ type: String, format: 'uuid', description: 'Null for the provider' }) id: string | null;
}

/** A usage report: every metric asked for, per bucket of the range. `format=csv` (or Accept: text/csv) gives the same as CSV. */
@ApiSchema({ name: 'UsageReport' })
export class UsageReportSchema implements UsageReport {
  @ApiProperty({ type: UsageResourceSchema, description: 'What the report is about (and everything below it)' }) resource: UsageResourceSchema;
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ enum: ['hour', 'day', 'month', 'total'] }) bucket: Bucketing;
  @ApiProperty({ enum: ['hour', 'day', 'month'] }) grain: Grain;
  @Nullable({ enum: ['container', 'service'], type: String }) groupBy: GroupBy | null;
  @ApiProperty({ enum: ['rollup', 'raw'], description: 'What was read' }) source: 'rollup' | 'raw';
  @ApiProperty({ type: [UsageSeriesSchema] }) series: UsageSeriesSchema[];
}

/** What a POST of application metrics did. */
@ApiSchema({ name: 'RecordedUsage' })
export class RecordedUsageSchema {
  @ApiProperty({ description: 'Facts recorded now' }) recorded: number;
  @ApiProperty({ description: 'Facts whose idempotency key was seen before: recorded nothing' }) repeated: number;
}
