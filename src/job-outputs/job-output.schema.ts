import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DATE_TIME, FREE_OBJECT, Nullable } from '../common/api-responses';
import type { JsonObject } from '../database/columns';
import type { presentOutput } from './job-outputs.service';

/** A job output as the API answers it: a file a job made (`hasContent`) and/or what it reported (`data`). */
@ApiSchema({ name: 'JobOutput' })
export class JobOutputSchema implements ReturnType<typeof presentOutput> {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) containerId: string;
  @ApiProperty({ format: 'uuid' }) serviceId: string;
  @ApiProperty({ format: 'uuid' }) jobId: string;
  @ApiProperty({ example: 'thumbnail.jpg' }) name: string;
  @Nullable({ type: String }) mimetype: string | null;
  @Nullable({ type: Number, description: 'Bytes, when it holds a file' }) size: number | null;
  @Nullable({ type: String, pattern: '^[0-9a-f]{64}$' }) sha256: string | null;
  @Nullable({ type: String, pattern: '^[0-9a-f]{32}$' }) md5: string | null;
  @Nullable(FREE_OBJECT) data: JsonObject | null;
  @Nullable({ type: String, format: 'uuid', description: 'The Mfile it was promoted to' }) mfileId: string | null;
  @ApiProperty({ description: 'Whether it holds a file (GET /joboutputs/:id/content)' }) hasContent: boolean;
  @ApiProperty(DATE_TIME) createdAt: Date;
}
