import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';
import {
  AppQuotasProperty,
  ByteLimitProperty,
  FreeFormProperties,
  NameProperty,
  OptionalNameProperty,
  PageQuery,
  SecondsLimitProperty,
} from '../common/validation';

export class CreateContainerDto {
  @NameProperty('Container name') name: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
  @FreeFormProperties('Free-form provider properties') properties?: Record<string, unknown>;
}

/** Limits on a whole container: only the provider (keys holding container:create) sets them. */
export const CONTAINER_MANAGEMENT_PROPERTIES = ['suspended', 'diskQuota', 'ingestQuota', 'jobruntimeQuota', 'appQuotas'] as const;

export class UpdateContainerDto {
  @OptionalNameProperty() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
  @FreeFormProperties('Free-form provider properties') properties?: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'Every service inside is read-only while set (provider only)' }) @IsOptional() @IsBoolean() suspended?: boolean;
  @ByteLimitProperty('Bytes all services inside may store together, null for no limit (provider only)') diskQuota?: number | null;
  @ByteLimitProperty('Bytes all services inside may ingest per calendar month (UTC), null for no limit (provider only)') ingestQuota?: number | null;
  @SecondsLimitProperty('Seconds of job runtime all services inside may use per calendar month (UTC), null for no limit (provider only)') jobruntimeQuota?:
    number | null;
  @AppQuotasProperty("Monthly limits (UTC) on applications' own metrics across all services inside, by name without app/; null for none (provider only)")
  appQuotas?: Record<string, number> | null;
}

export class ListContainersQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Case-insensitive substring of the name' }) @IsOptional() @IsString() @MaxLength(255) name?: string;
}
