import { ApiProperty, ApiSchema, getSchemaPath } from '@nestjs/swagger';
import { DATE_TIME, FREE_OBJECT, Nullable, Optional } from '../common/api-responses';
import type { JsonObject } from '../database/columns';
import type { OptionSpec, TaskDefinition, TaskName } from '../tasks/task-catalogue';
import { JobState } from './job.entity';
import type { ListedJob } from './jobs.service';
import type { StepCondition } from './step-condition';

/** When a step runs: its input's mimetype and size (else it is skipped). */
@ApiSchema({ name: 'StepCondition' })
export class StepConditionSchema implements StepCondition {
  @Optional({ type: [String], example: ['image/*'] }) mimetypes?: string[];
  @Optional() minSize?: number;
  @Optional() maxSize?: number;
}

@ApiSchema({ name: 'JobInput' })
class JobInputSchema {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
}

/** A job as the API answers it. */
@ApiSchema({ name: 'Job' })
export class JobSchema implements ListedJob {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) containerId: string;
  @ApiProperty({ format: 'uuid' }) serviceId: string;
  @ApiProperty({ example: 'thumbnail' }) task: string;
  @ApiProperty(FREE_OBJECT) options: JsonObject;
  @ApiProperty({ example: 'normal' }) queue: string;
  @ApiProperty({ enum: JobState, enumName: 'JobState' }) state: JobState;
  @ApiProperty({ minimum: 0, maximum: 100 }) progress: number;
  @Nullable({ ...FREE_OBJECT, description: "What the task found (the task registry's `results`)" }) result: JsonObject | null;
  @Nullable({ type: String }) error: string | null;
  @ApiProperty() attempts: number;
  @Nullable({ type: String, description: 'The worker (host:pid) that ran it last' }) workerHost: string | null;
  @ApiProperty({ enum: ['ingest', 'update', 'access', 'periodic', 'manual'] }) trigger: string;
  @Nullable({ type: String, format: 'uuid', description: 'The pipeline run it belongs to; null for a lone manual job' }) runId: string | null;
  @Nullable({ type: String, description: 'The profile step it was made from' }) step: string | null;
  @Nullable({ type: StepConditionSchema }) condition: StepCondition | null;
  @Nullable({ type: String, format: 'uuid', description: 'The key that asked for a manual job; null for profile jobs' }) requestedByKeyId: string | null;
  @ApiProperty({ description: 'Made with no input file (an input-less periodic step): `mfileIds` is empty by design' }) withoutInput: boolean;
  @ApiProperty(DATE_TIME) createdAt: Date;
  @ApiProperty(DATE_TIME) updatedAt: Date;
  @Nullable(DATE_TIME) startedAt: Date | null;
  @Nullable(DATE_TIME) finishedAt: Date | null;
  @ApiProperty({ type: [String], format: 'uuid', description: 'The files it ran on' }) mfileIds: string[];
  @Optional({ type: [JobInputSchema], description: 'In lists, for keys that may read files: their names too' }) inputs?: JobInputSchema[];
}

/** One job per Mfile (`each: true`) or the manual pipeline's jobs. */
@ApiSchema({ name: 'JobList' })
export class JobListSchema {
  @ApiProperty({ type: [JobSchema] }) items: JobSchema[];
}

/** An option of a task: its type, default and bounds, as the catalogue declares them (src/tasks/task-catalogue.ts). */
@ApiSchema({ name: 'TaskOption' })
export class TaskOptionSchema {
  @ApiProperty({ enum: ['integer', 'number', 'string', 'text'], description: 'text: a free value checked against `pattern`' }) type: string;
  @ApiProperty() description: string;
  @Optional({ oneOf: [{ type: 'number' }, { type: 'string' }], description: 'Used when the option is left out; a text option without one is required' })
  default?: number | string;
  @Optional() minimum?: number;
  @Optional() maximum?: number;
  @Optional({ type: [String] }) enum?: string[];
  @Optional() pattern?: string;
  @Optional() maxLength?: number;
  @Optional({ enum: [true], description: 'Applies only to a job without input (refused on one with input)' }) withoutInput?: true;
}

/** A task of the registry: what it takes, its options, what it makes and reports. */
@ApiSchema({ name: 'Task' })
export class TaskSchema implements TaskDefinition {
  @ApiProperty({ type: String, example: 'thumbnail' }) name: TaskName;
  @ApiProperty() description: string;
  @ApiProperty({ example: 'normal' }) defaultQueue: string;
  @ApiProperty({ type: [String], example: ['image/jpeg'], description: 'Accepted input mimetypes (globs)' }) inputs: string[];
  @ApiProperty({ description: 'How many Mfiles one job reads' }) inputCount: number;
  @Optional({ description: 'What it does when run with no input (a periodic step with `"input": "none"`); absent for tasks that always read a file' })
  withoutInput?: string;
  @ApiProperty({ type: 'object', additionalProperties: { $ref: getSchemaPath(TaskOptionSchema) }, description: 'Its options, by name' })
  options: Record<string, OptionSpec>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, description: 'The files it makes, as job outputs: role → what' })
  outputs: Record<string, string>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, description: 'What it reports in `result`' }) results: Record<string, string>;
  @Optional({ enum: [true], description: 'It replaces its input’s bytes (needs mfile:write too)' }) changesContent?: true;
}
