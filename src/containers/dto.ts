import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsNumber, IsObject, IsOptional, IsString, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { NameProperty, OptionalNameProperty, PageQuery } from '../common/validation';

export class CreateContainerDto {
  @NameProperty('Container name') name: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
}

/** Limits on a whole container: only the provider (keys holding container:create) sets them. */
export const CONTAINER_MANAGEMENT_PROPERTIES = ['suspended', 'diskQuota', 'ingestQuota', 'jobruntimeQuota'] as const;

export class UpdateContainerDto {
  @OptionalNameProperty() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
  @ApiPropertyOptional({ description: 'Free-form provider properties' }) @IsOptional() @IsObject() properties?: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'Every service inside is read-only while set (provider only)' }) @IsOptional() @IsBoolean() suspended?: boolean;
  @ApiPropertyOptional({ description: 'Bytes all services inside may store together, null for no limit (provider only)', nullable: true, type: Number })
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) diskQuota?: number | null;
  @ApiPropertyOptional({ description: 'Bytes all services inside may ingest per calendar month (UTC), null for no limit (provider only)', nullable: true, type: Number })
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) ingestQuota?: number | null;
  @ApiPropertyOptional({ description: 'Seconds of job runtime all services inside may use per calendar month (UTC), null for no limit (provider only)', nullable: true, type: Number })
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) jobruntimeQuota?: number | null;
}

export class ListContainersQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Case-insensitive substring of the name' }) @IsOptional() @IsString() @MaxLength(255) name?: string;
}
