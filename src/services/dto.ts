import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import {
  AppQuotasProperty,
  ByteLimitProperty,
  FreeFormProperties,
  NameProperty,
  OptionalNameProperty,
  PageQuery,
  SecondsLimitProperty,
  StorableDate,
} from '../common/validation';

/** Properties only the provider side (keys with service:manage) may set. */
export const MANAGEMENT_PROPERTIES = [
  'suspended',
  'startsAt',
  'endsAt',
  'priority',
  'diskQuota',
  'ingestQuota',
  'jobruntimeQuota',
  'appQuotas',
  'accessSpeed',
  'profile',
] as const;

/** A container profile's name. */
export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export class ServicePropertiesDto {
  @ApiPropertyOptional({ description: 'Suspended services are read-only (service:manage)' }) @IsOptional() @IsBoolean() suspended?: boolean;
  @ApiPropertyOptional({ description: 'Start of the availability window, ISO 8601, null to clear (service:manage)', nullable: true, type: String })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @StorableDate()
  startsAt?: Date | null;
  @ApiPropertyOptional({ description: 'End of the availability window, ISO 8601, null to clear (service:manage)', nullable: true, type: String })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @StorableDate()
  endsAt?: Date | null;
  @ApiPropertyOptional({ description: "Route this service's tasks to the priority queue (service:manage)" }) @IsOptional() @IsBoolean() priority?: boolean;
  @ByteLimitProperty('Bytes the service may store, null for no limit (service:manage)') diskQuota?: number | null;
  @ByteLimitProperty('Bytes the service may ingest per calendar month (UTC), null for no limit (service:manage)') ingestQuota?: number | null;
  @SecondsLimitProperty('Seconds of job runtime the service may use per calendar month (UTC), null for no limit (service:manage)') jobruntimeQuota?:
    number | null;
  @AppQuotasProperty(
    "Monthly limits (UTC) on the application's own metrics (POST /services/:id/usage), by name without app/: a record over the limit is refused with 429; null for none (service:manage)",
  )
  appQuotas?: Record<string, number> | null;
  @ApiPropertyOptional({
    description:
      'Download bandwidth cap in bytes per second for the content of this service (Mfiles and job outputs), per download; at least 1024, null for no limit (service:manage)',
    nullable: true,
    type: Number,
    minimum: 1024,
    example: 262144,
  })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @IsInt()
  @Min(1024)
  @Max(Number.MAX_SAFE_INTEGER)
  accessSpeed?: number | null;
  @ApiPropertyOptional({
    description: 'The container profile this service runs (GET /containers/:id/profiles), null for its own or the default (service:manage)',
    nullable: true,
    type: String,
  })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @Matches(PROFILE_NAME, { message: 'profile must be a profile name: letters, digits, . _ -, at most 100' })
  profile?: string | null;
}

export class CreateServiceDto extends ServicePropertiesDto {
  @NameProperty('Service name') name: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
  @FreeFormProperties("The customer's own properties (service:update)") properties?: Record<string, unknown>;
}

export class UpdateServiceDto extends ServicePropertiesDto {
  @OptionalNameProperty() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
  @FreeFormProperties("The customer's own properties (service:update)") properties?: Record<string, unknown>;
}

export class ListServicesQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Case-insensitive substring of the name' }) @IsOptional() @IsString() @MaxLength(255) name?: string;
}
