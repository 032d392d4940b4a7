import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DATE_TIME, Nullable } from '../common/api-responses';
import type { Mfolder } from './mfolder.entity';

/** A folder as the API answers it. */
@ApiSchema({ name: 'Mfolder' })
export class MfolderSchema implements Mfolder {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) containerId: string;
  @ApiProperty({ format: 'uuid' }) serviceId: string;
  @Nullable({ type: String, format: 'uuid', description: "Null for a service's root folder" }) parentId: string | null;
  @ApiProperty() name: string;
  @ApiProperty(DATE_TIME) createdAt: Date;
  @ApiProperty(DATE_TIME) updatedAt: Date;
}
