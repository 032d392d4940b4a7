import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DATE_TIME, Nullable } from '../common/api-responses';
import type { ResourceType } from './key.entity';
import type { presentKey } from './keys.service';

const RESOURCE_TYPES: ResourceType[] = ['provider', 'container', 'service', 'mfolder', 'mfile', 'job', 'joboutput'];

@ApiSchema({ name: 'KeyResource' })
class KeyResourceSchema {
  @ApiProperty({ enum: RESOURCE_TYPES }) type: ResourceType;
  @Nullable({ type: String, format: 'uuid', description: 'Null for the provider' }) id: string | null;
}

/** A key as the API shows it: never its secret (except once, when issued) nor its hash. */
@ApiSchema({ name: 'Key' })
export class KeySchema implements ReturnType<typeof presentKey> {
  @ApiProperty({ format: 'uuid' }) id: string;
  @Nullable({ type: String }) label: string | null;
  @ApiProperty({ type: KeyResourceSchema, description: 'What it opens, and everything below' }) resource: KeyResourceSchema;
  @ApiProperty({ type: [String], example: ['servicecustomer'] }) roles: string[];
  @ApiProperty({ type: [String], example: ['mfile:read', 'job:read'], description: 'Every action it allows' }) actions: string[];
  @Nullable({ type: String, format: 'uuid', description: 'The key it was derived from' }) parentId: string | null;
  @Nullable({ type: String, format: 'uuid', description: 'The key that minted it' }) createdByKeyId: string | null;
  @Nullable(DATE_TIME) expiresAt: Date | null;
  @Nullable(DATE_TIME) revokedAt: Date | null;
  @ApiProperty(DATE_TIME) createdAt: Date;
}

/** A key just issued, with its secret (shown once). */
@ApiSchema({ name: 'IssuedKey' })
export class IssuedKeySchema extends KeySchema {
  @ApiProperty({ description: 'The secret (msk_...), shown once' }) key: string;
}

/** What a revocation revoked: the key and every key derived from it. */
@ApiSchema({ name: 'RevokedKeys' })
export class RevokedKeysSchema {
  @ApiProperty({ type: [String], format: 'uuid' }) revoked: string[];
}
