import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsObject, IsOptional, IsString, IsUUID, MaxLength, ValidateIf } from 'class-validator';
import { PageQuery } from '../common/validation';
import { JobState } from './job.entity';

export class CreateJobDto {
  @ApiProperty({ description: 'The Mfiles the task runs on (same service)', type: [String] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsUUID('all', { each: true })
  mfileIds: string[];
  @ApiPropertyOptional({ description: 'Task name, from GET /api/v1/tasks (or give `pipeline`)', example: 'sha256' })
  @ValidateIf((dto: CreateJobDto) => dto.pipeline === undefined)
  @IsString()
  @MaxLength(100)
  task?: string;
  @ApiPropertyOptional({ description: "Instead of a task: run the service profile's manual pipeline on each Mfile", enum: ['manual'] })
  @IsOptional()
  @IsIn(['manual'])
  pipeline?: 'manual';
  @ApiPropertyOptional({ description: "Task options (GET /tasks lists each task's)", type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  options?: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'Queue override: normal, priority or hardware.<tag>' }) @IsOptional() @IsString() @MaxLength(100) queue?: string;
  @ApiPropertyOptional({
    description:
      "One job per Mfile, answered as {items: jobs}. Without it, more mfileIds than the task's `inputCount` (GET /tasks) is a 400: a job never runs on some of its inputs only",
  })
  @IsOptional()
  @IsBoolean()
  each?: boolean;
}

export class ListJobsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: Object.values(JobState) }) @IsOptional() @IsIn(Object.values(JobState)) state?: JobState;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(100) task?: string;
  @ApiPropertyOptional({ enum: ['ingest', 'update', 'access', 'periodic', 'manual'] })
  @IsOptional()
  @IsIn(['ingest', 'update', 'access', 'periodic', 'manual'])
  trigger?: string;
  @ApiPropertyOptional({ description: 'The jobs of one pipeline run' }) @IsOptional() @IsUUID() runId?: string;
  @ApiPropertyOptional({ enum: ['oldest', 'newest'], default: 'oldest', description: 'Order of creation; a cursor pages on in the same order' })
  @IsOptional()
  @IsIn(['oldest', 'newest'])
  order: 'oldest' | 'newest' = 'oldest';
}
