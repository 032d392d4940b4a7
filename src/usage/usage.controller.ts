import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsNumber, IsObject, IsOptional, Matches, Max, Min, ValidateNested } from 'class-validator';
import type { Request, Response } from 'express';
import { Problems } from '../common/problem';
import { APP_METRIC_NAME, StorableDate } from '../common/validation';
import { Auth, Authorize, RequestAuth } from '../keys/authorize.decorator';
import { Clock } from './clock';
import { UsageQueryService } from './usage-query.service';
import { UsageService } from './usage.service';
import { GroupBy, UsageScope } from './usage.repository';
import { Bucketing, ceilTo, countBuckets, floorTo, Grain, toCsv } from './usage-report';
import { ApiReport, ApiResource } from '../common/api-responses';
import { RecordedUsageSchema, UsageReportSchema } from './usage.schema';

const METRIC_LIST = /^[A-Za-z0-9_.:/-]{1,200}(,[A-Za-z0-9_.:/-]{1,200}){0,49}$/;

/** How far ahead of the server's clock an application's fact may be dated (clocks drift). */
const FUTURE_SLACK_MS = 5 * 60_000;

export class ApplicationMetricDto {
  @ApiProperty({ description: 'Its name (letters, digits, _ . -; up to 64): reported as app/<name>', example: 'pages-rendered' })
  @Matches(APP_METRIC_NAME, { message: 'metric must be 1 to 64 letters, digits, _ . or -, starting with a letter or digit' })
  metric: string;
  @ApiProperty({ description: 'A finite number (negative to take back)', example: 12 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-1e15)
  @Max(1e15)
  value: number;
  @ApiProperty({ description: 'Unique per service: the same key again records nothing (safe retries)', example: 'render-2026-12-07-0001' })
  @Matches(/^[\x21-\x7e]{1,200}$/, { message: 'idempotencyKey must be 1 to 200 visible ASCII characters' })
  idempotencyKey: string;
  @ApiPropertyOptional({ description: 'When it happened (ISO 8601); now when left out, never more than 5 minutes ahead', type: String })
  @IsOptional()
  @StorableDate()
  at?: Date;
}

export class RecordUsageDto {
  @ApiProperty({ type: [ApplicationMetricDto], description: '1 to 500 facts' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(500)
  // each an object: ValidateNested alone walks into nested arrays and finds nothing wrong in an empty one
  @IsObject({ each: true, message: 'each of items must be an object {metric, value, idempotencyKey, at?}' })
  @ValidateNested({ each: true })
  @Type(() => ApplicationMetricDto)
  items: ApplicationMetricDto[];
}

export class UsageQueryDto {
  @ApiPropertyOptional({
    description: 'Comma-separated metrics (disc, ingest, access, jobs, jobruntime, jobbytes, task/<name>/success, ...); all when omitted',
    example: 'disc,ingest',
  })
  @IsOptional()
  @Matches(METRIC_LIST, { message: 'metric must be a comma-separated list of metric names (letters, digits, _ . : / -), at most 50' })
  metric?: string;
  @ApiPropertyOptional({ description: 'Start (ISO 8601), rounded down to the bucket; default: 30 days before `to`', type: String })
  @IsOptional()
  @StorableDate()
  from?: Date;
  @ApiPropertyOptional({ description: 'End, exclusive (ISO 8601), rounded up to the bucket; default: now', type: String })
  @IsOptional()
  @StorableDate()
  to?: Date;
  @ApiPropertyOptional({ enum: ['hour', 'day', 'month', 'total'], default: 'day', description: 'Bucket size (UTC), or one total over the range' })
  @IsOptional()
  @IsIn(['hour', 'day', 'month', 'total'])
  bucket?: Bucketing;
  @ApiPropertyOptional({
    enum: ['container', 'service'],
    description: 'One series per container or service below the resource (provider: either; container: service)',
  })
  @IsOptional()
  @IsIn(['container', 'service'])
  groupBy?: GroupBy;
  @ApiPropertyOptional({
    enum: ['rollup', 'raw'],
    default: 'rollup',
    description: 'raw reads every recorded fact instead of the rollups (same answer, slower)',
  })
  @IsOptional()
  @IsIn(['rollup', 'raw'])
  source?: 'rollup' | 'raw';
  @ApiPropertyOptional({ enum: ['json', 'csv'], description: 'csv: one line per bucket (also chosen by Accept: text/csv)' })
  @IsOptional()
  @IsIn(['json', 'csv'])
  format?: 'json' | 'csv';
}

/** Longest range one report may span, in buckets of its grain. */
const MAX_BUCKETS = 20_000;

/**
 * Usage reports (MServe's usagesummary) for a resource and what is below it: per bucket sum, count, min, max, mean
 * and standard deviation; gauges (disc, mfiles, ...) add their level and its time integral (byte-hours for disc).
 */
@ApiTags('usage')
@Controller()
export class UsageController {
  constructor(
    private readonly usage: UsageQueryService,
    private readonly recorder: UsageService,
    private readonly clock: Clock,
  ) {}

  @Post('services/:id/usage')
  @Authorize('usage:record', 'service')
  @ApiOperation({
    summary:
      "Record an application's own metrics about a service (app/<metric>), each with an idempotency key: reported, rolled up and exported like MServe's. Answers {recorded, repeated}",
  })
  @ApiResource(RecordedUsageSchema, 'How many facts were recorded and how many were repeats', 201)
  recordForService(@Auth() auth: RequestAuth, @Body() dto: RecordUsageDto) {
    return this.recordApplication(auth, dto);
  }

  @Post('mfiles/:id/usage')
  @Authorize('usage:record', 'mfile')
  @ApiOperation({ summary: "Record an application's own metrics about an Mfile (in the file's usage, and its service's): as POST /services/:id/usage" })
  @ApiResource(RecordedUsageSchema, 'How many facts were recorded and how many were repeats', 201)
  recordForMfile(@Auth() auth: RequestAuth, @Body() dto: RecordUsageDto) {
    return this.recordApplication(auth, dto, auth.target!.id ?? undefined);
  }

  private recordApplication(auth: RequestAuth, dto: RecordUsageDto, mfileId?: string) {
    const latest = this.clock.now().getTime() + FUTURE_SLACK_MS;
    const ahead = dto.items.findIndex((item) => item.at && item.at.getTime() > latest);
    if (ahead >= 0) throw Problems.badRequest(`items[${ahead}].at lies in the future: facts are recorded when they happened`);
    const { containerId, serviceId } = auth.target!;
    return this.recorder.recordApplication({ containerId: containerId!, serviceId: serviceId!, mfileId }, dto.items);
  }

  @Get('usage')
  @Authorize('usage:read')
  @ApiProduces('application/json', 'text/csv')
  @ApiOperation({ summary: 'Provider-wide usage (the admin key only); groupBy=container or service for one series each' })
  @ApiReport(UsageReportSchema, 'The report')
  provider(@Auth() auth: RequestAuth, @Query() query: UsageQueryDto, @Req() request: Request, @Res() response: Response) {
    if (auth.key.resourceType !== 'provider')
      throw Problems.forbidden(
        "this key lacks the provider scope: the provider-wide usage is the admin key's; ask for the usage of your container or service instead",
      );
    return this.answer({ type: 'provider' }, { type: 'provider', id: null }, query, ['container', 'service'], request, response);
  }

  @Get('containers/:id/usage')
  @Authorize('usage:read', 'container')
  @ApiProduces('application/json', 'text/csv')
  @ApiOperation({ summary: 'Usage of a container and its services (groupBy=service for one series each)' })
  @ApiReport(UsageReportSchema, 'The report')
  container(@Param('id') id: string, @Query() query: UsageQueryDto, @Req() request: Request, @Res() response: Response) {
    return this.answer({ type: 'container', id }, { type: 'container', id }, query, ['service'], request, response);
  }

  @Get('services/:id/usage')
  @Authorize('usage:read', 'service')
  @ApiProduces('application/json', 'text/csv')
  @ApiOperation({ summary: 'Usage of a service: its Mfiles, jobs, job outputs and backups' })
  @ApiReport(UsageReportSchema, 'The report')
  service(@Param('id') id: string, @Query() query: UsageQueryDto, @Req() request: Request, @Res() response: Response) {
    return this.answer({ type: 'service', id }, { type: 'service', id }, query, [], request, response);
  }

  @Get('mfiles/:id/usage')
  @Authorize('usage:read', 'mfile')
  @ApiProduces('application/json', 'text/csv')
  @ApiOperation({ summary: 'Usage of an Mfile: its bytes stored, ingested and accessed, its backup copy, and the jobs run on it with their outputs' })
  @ApiReport(UsageReportSchema, 'The report')
  async mfile(@Param('id') id: string, @Query() query: UsageQueryDto, @Req() request: Request, @Res() response: Response) {
    return this.answer({ type: 'resources', ids: await this.usage.resourcesOf('mfile', id) }, { type: 'mfile', id }, query, [], request, response);
  }

  @Get('jobs/:id/usage')
  @Authorize('usage:read', 'job')
  @ApiProduces('application/json', 'text/csv')
  @ApiOperation({ summary: 'Usage of a job: runtime, bytes processed, outcome, and the bytes its outputs store' })
  @ApiReport(UsageReportSchema, 'The report')
  async job(@Param('id') id: string, @Query() query: UsageQueryDto, @Req() request: Request, @Res() response: Response) {
    return this.answer({ type: 'resources', ids: await this.usage.resourcesOf('job', id) }, { type: 'job', id }, query, [], request, response);
  }

  @Get('joboutputs/:id/usage')
  @Authorize('usage:read', 'joboutput')
  @ApiProduces('application/json', 'text/csv')
  @ApiOperation({ summary: 'Usage of a job output: the bytes it stores, and what was accessed of it' })
  @ApiReport(UsageReportSchema, 'The report')
  async jobOutput(@Param('id') id: string, @Query() query: UsageQueryDto, @Req() request: Request, @Res() response: Response) {
    return this.answer({ type: 'resources', ids: await this.usage.resourcesOf('joboutput', id) }, { type: 'joboutput', id }, query, [], request, response);
  }

  private async answer(
    scope: UsageScope,
    resource: { type: string; id: string | null },
    query: UsageQueryDto,
    groupings: GroupBy[],
    request: Request,
    response: Response,
  ): Promise<void> {
    if (query.groupBy && !groupings.includes(query.groupBy)) {
      throw Problems.badRequest(
        `groupBy=${query.groupBy} is not available here${groupings.length ? `: use ${groupings.join(' or ')}` : ' (there is nothing below to group by)'}`,
      );
    }
    const bucket = query.bucket ?? 'day';
    const grain: Grain = bucket === 'total' ? 'hour' : bucket;
    const to = ceilTo(grain, query.to ?? this.clock.now());
    const from = floorTo(grain, query.from ?? new Date(to.getTime() - 30 * 86_400_000));
    if (from >= to) throw Problems.badRequest('from must be before to');
    if (bucket !== 'total' && countBuckets(grain, from, to) > MAX_BUCKETS) {
      throw Problems.badRequest(
        `from..to spans ${countBuckets(grain, from, to)} ${grain}s: at most ${MAX_BUCKETS} buckets, choose a coarser bucket or a shorter range`,
      );
    }
    const metrics = query.metric ? [...new Set(query.metric.split(','))] : undefined;
    const report = await this.usage.report(scope, { metrics, from, to, bucket, groupBy: query.groupBy, source: query.source });
    const csv = query.format === 'csv' || (query.format === undefined && request.accepts(['application/json', 'text/csv']) === 'text/csv');
    if (csv) {
      const name = `usage-${resource.type}${resource.id ? `-${resource.id}` : ''}-${from.toISOString().slice(0, 10)}-${to.toISOString().slice(0, 10)}.csv`;
      response.status(200).type('text/csv; charset=utf-8').setHeader('Content-Disposition', `attachment; filename="${name}"`);
      response.send(toCsv(report.series));
      return;
    }
    response.status(200).json({ resource, ...report });
  }
}
