import { ApiProperty, ApiSchema, getSchemaPath } from '@nestjs/swagger';
import { DATE_TIME, Nullable, Optional } from '../common/api-responses';
import type { JsonObject } from '../database/columns';
import type { PublicMfile } from './mfile.presenter';
import type { CreatedMfile, IngestRun } from './mfiles.service';

/**
 * A file a task made for an Mfile (thumbnail, poster, proxy...), linked from its metadata under `renditions[role]`,
 * with what the task said of it (a poster's `at`, a proxy's `duration`...).
 */
@ApiSchema({ name: 'Rendition' })
export class RenditionSchema {
  @ApiProperty({ format: 'uuid' }) jobOutputId: string;
  @ApiProperty({ format: 'uuid' }) jobId: string;
  @ApiProperty({ example: 'image/jpeg' }) mimetype: string;
  @ApiProperty() size: number;
  @Optional() width?: number;
  @Optional() height?: number;
  @Optional({ description: "A video poster's time in the video, in seconds" }) at?: number;
  @ApiProperty({ example: '/api/v1/joboutputs/0193…/content', description: 'Where to download it (joboutput:read)' }) url: string;
}

/** An Mfile as the API answers it. */
@ApiSchema({ name: 'Mfile' })
export class MfileSchema implements PublicMfile {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) containerId: string;
  @ApiProperty({ format: 'uuid' }) serviceId: string;
  @ApiProperty({ format: 'uuid' }) folderId: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'Bytes' }) size: number;
  @ApiProperty({ pattern: '^[0-9a-f]{32}$' }) md5: string;
  @ApiProperty({ pattern: '^[0-9a-f]{64}$' }) sha256: string;
  @ApiProperty({ example: 'image/jpeg', description: 'Detected from the bytes' }) mimetype: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      "What tasks found (image: {width, height, ...}, video: {duration, ...}), `renditions` by role, `source` of fetched content, `backup`, and the application's own keys",
    properties: {
      renditions: { type: 'object', additionalProperties: { $ref: getSchemaPath(RenditionSchema) }, description: 'Files tasks made from it, by role' },
      image: { type: 'object', additionalProperties: true, description: 'What the image task read: width, height, format, EXIF...' },
      video: { type: 'object', additionalProperties: true, description: 'What the video metadata task read: duration, streams...' },
      promotedFrom: {
        type: 'object',
        required: ['jobOutputId', 'jobId'],
        properties: { jobOutputId: { type: 'string', format: 'uuid' }, jobId: { type: 'string', format: 'uuid' } },
        description: 'The job output it was made from',
      },
    },
  })
  metadata: JsonObject;
  @ApiProperty(DATE_TIME) createdAt: Date;
  @ApiProperty(DATE_TIME) updatedAt: Date;
  @ApiProperty({ ...DATE_TIME, description: 'When its bytes last changed' }) contentUpdatedAt: Date;
}

@ApiSchema({ name: 'IngestJob' })
class IngestJobSchema {
  @ApiProperty({ format: 'uuid' }) id: string;
  @Nullable({ type: String, description: 'The profile step' }) step: string | null;
  @ApiProperty({ example: 'thumbnail' }) task: string;
  @ApiProperty({ example: 'queued' }) state: string;
  @ApiProperty({ example: 'normal' }) queue: string;
}

/** The ingest run an upload started: its id and jobs (those whose findings the upload knew are already `succeeded`). */
@ApiSchema({ name: 'IngestRun' })
export class IngestRunSchema implements IngestRun {
  @ApiProperty({ format: 'uuid' }) runId: string;
  @ApiProperty({ type: [IngestJobSchema] }) jobs: IngestJobSchema[];
}

/** A new Mfile as its creator is answered: the file, its owner key (secret shown once) and the ingest run it started. */
@ApiSchema({ name: 'CreatedMfile' })
export class CreatedMfileSchema extends MfileSchema implements CreatedMfile {
  @ApiProperty({ description: 'The mfileowner key: its secret, shown once' }) key: string;
  @ApiProperty({ format: 'uuid' }) keyId: string;
  @Nullable({ type: IngestRunSchema, description: 'Null when the profile has no ingest step for it' }) ingest: IngestRunSchema | null;
}
