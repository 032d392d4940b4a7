import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DATE_TIME, FREE_OBJECT, Nullable } from '../common/api-responses';
import type { JsonObject } from '../database/columns';
import type { Container } from './container.entity';

const QUOTAS = { type: 'object', additionalProperties: { type: 'number' } } as const;

/** A container as the API answers it. */
@ApiSchema({ name: 'Container' })
export class ContainerSchema implements Container {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @Nullable({ type: String }) description: string | null;
  @ApiProperty({ ...FREE_OBJECT, description: 'Free-form provider properties' }) properties: JsonObject;
  @ApiProperty({ description: 'Every service inside is read-only while set' }) suspended: boolean;
  @Nullable({ type: Number, description: 'Bytes all its services may store together (null: unlimited)' }) diskQuota: number | null;
  @Nullable({ type: Number, description: 'Bytes its services may ingest per calendar month, UTC' }) ingestQuota: number | null;
  @Nullable({ type: Number, description: 'Seconds of job runtime per calendar month, UTC' }) jobruntimeQuota: number | null;
  @Nullable({ ...QUOTAS, description: "Monthly limits on applications' own metrics, by name without app/" }) appQuotas: Record<string, number> | null;
  @ApiProperty(DATE_TIME) createdAt: Date;
  @ApiProperty(DATE_TIME) updatedAt: Date;
}

/** A new container, with its containeradmin key (the secret shown once). */
@ApiSchema({ name: 'CreatedContainer' })
export class CreatedContainerSchema extends ContainerSchema {
  @ApiProperty({ description: 'The containeradmin key: its secret, shown once' }) key: string;
  @ApiProperty({ format: 'uuid' }) keyId: string;
}
