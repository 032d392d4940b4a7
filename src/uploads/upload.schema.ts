import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DATE_TIME, Nullable, Optional } from '../common/api-responses';
import type { UploadProgress } from './upload-sessions.service';

const RANGE = {
  type: 'array',
  items: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 },
  description: '[first, last] byte offsets, inclusive',
} as const;

/** The Mfile an upload made, told once to the request that completed it. */
@ApiSchema({ name: 'CompletedUpload' })
class CompletedUploadSchema implements NonNullable<UploadProgress['mfile']> {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'The mfileowner key: its secret, shown once' }) key: string;
  @ApiProperty({ format: 'uuid' }) keyId: string;
  @ApiProperty() md5: string;
  @ApiProperty() sha256: string;
  @Nullable({ type: String, format: 'uuid', description: 'The ingest run it started' }) ingestRunId: string | null;
}

/** Where a chunked (Content-Range) upload stands. */
@ApiSchema({ name: 'ChunkedUpload' })
export class ChunkedUploadSchema {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ format: 'uuid' }) folderId: string;
  @ApiProperty({ description: 'Bytes in all' }) length: number;
  @ApiProperty({ ...RANGE, description: 'Ranges received, [first, last] inclusive' }) received: [number, number][];
  @ApiProperty({ ...RANGE, description: 'Ranges still missing, [first, last] inclusive' }) missing: [number, number][];
  @ApiProperty() complete: boolean;
  @ApiProperty(DATE_TIME) expiresAt: Date;
  @Optional({ description: 'Set when this chunk had been received before' }) duplicate?: boolean;
  @Nullable({ type: String, format: 'uuid', description: 'The Mfile, once complete' }) mfileId: string | null;
  @Optional({ type: CompletedUploadSchema, description: 'Only in the answer to the request that completed it' }) mfile?: CompletedUploadSchema;
}
