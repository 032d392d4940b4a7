import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DATE_TIME, Nullable, Optional } from '../common/api-responses';
import { StepConditionSchema } from '../jobs/job.schema';
import type { EffectiveProfile } from './pipelines.service';
import type { ProfileDefinition } from './profile';

/** A step of a pipeline. */
@ApiSchema({ name: 'ProfileStep' })
export class ProfileStepSchema {
  @ApiProperty({ example: 'thumbnail' }) name: string;
  @ApiProperty({ example: 'thumbnail', description: 'A task of GET /tasks' }) task: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) options: Record<string, unknown>;
  @ApiProperty({ type: [String], description: 'Steps of the same pipeline that must succeed (or be skipped) first' }) after: string[];
  @Optional({ type: StepConditionSchema, description: 'Run only on inputs that match (else skipped)' }) when?: StepConditionSchema;
  @ApiProperty({ required: false, description: 'A queue other than the task’s default' }) queue?: string;
  @ApiProperty({
    required: false,
    enum: ['none', 'file'],
    description:
      'periodic only: `none` runs the step once per tick with no input file (a task that allows it, such as fetch-url); `file` (the default) once per file',
  })
  input?: 'none' | 'file';
  @ApiProperty({ required: false, enum: [true], description: 'Run it on the stored bytes even when the upload already knows its answer' }) verify?: true;
}

/** A pipeline: its steps, and the schedule of the periodic one. */
@ApiSchema({ name: 'Pipeline' })
export class PipelineSchema {
  @ApiProperty({ type: [ProfileStepSchema] }) steps: ProfileStepSchema[];
  @ApiProperty({ required: false, example: '0 3 * * *', description: 'Cron expression (UTC), periodic only' }) schedule?: string;
}

/** A profile: one pipeline per trigger (what PUT takes and GET answers in `definition`). */
@ApiSchema({ name: 'ProfileDefinition' })
export class ProfileDefinitionSchema {
  @Optional({ type: PipelineSchema, description: 'Runs on new content (an upload, a promoted output, a fetched file)' }) ingest?: PipelineSchema;
  @Optional({ type: PipelineSchema, description: 'Runs when the content is replaced' }) update?: PipelineSchema;
  @Optional({ type: PipelineSchema, description: 'Runs once per download session' }) access?: PipelineSchema;
  @Optional({ type: PipelineSchema, description: 'Runs on its schedule (per file, and once per tick for steps without input)' }) periodic?: PipelineSchema;
  @Optional({ type: PipelineSchema, description: "Runs on request (POST /jobs with pipeline: 'manual')" }) manual?: PipelineSchema;
}

/** The profile a service runs, and where it comes from. */
@ApiSchema({ name: 'Profile' })
export class ProfileSchema implements EffectiveProfile {
  @ApiProperty({ type: ProfileDefinitionSchema }) definition: ProfileDefinition;
  @ApiProperty({ description: "True when it is MServe's own default" }) isDefault: boolean;
  @Nullable(DATE_TIME) updatedAt: Date | null;
  @ApiProperty({
    enum: ['container', 'service', 'default'],
    description: "container: selected by the provider (`name`); service: the service's own; default: MServe's",
  })
  source: 'container' | 'service' | 'default';
  @Nullable({ type: String, description: 'The container profile selected' }) name: string | null;
}

/** A named profile a container offers its services. */
@ApiSchema({ name: 'ContainerProfile' })
export class ContainerProfileSchema {
  @ApiProperty() name: string;
  @ApiProperty({ type: ProfileDefinitionSchema }) definition: ProfileDefinition;
  @ApiProperty(DATE_TIME) updatedAt: Date;
  @ApiProperty({ description: 'How many services run it' }) selectedBy: number;
}
