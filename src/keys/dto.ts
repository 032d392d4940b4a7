import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsObject, IsOptional, IsString, IsUUID, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import { StorableDate } from '../common/validation';
import { ACTIONS, ROLE_NAMES } from './actions';

export class ResourceRefDto {
  @ApiProperty({ enum: ['provider', 'container', 'service', 'mfolder', 'mfile', 'job', 'joboutput'] })
  @IsIn(['provider', 'container', 'service', 'mfolder', 'mfile', 'job', 'joboutput'])
  type: 'provider' | 'container' | 'service' | 'mfolder' | 'mfile' | 'job' | 'joboutput';
  @ApiPropertyOptional({ description: 'Resource id (omit for provider)', type: String, format: 'uuid', nullable: true })
  @ValidateIf((o) => o.type !== 'provider')
  @IsUUID()
  id: string | null;
}

export class DeriveKeyDto {
  @ApiPropertyOptional({ enum: ROLE_NAMES, isArray: true, description: "Roles to grant (each a subset of the presented key's actions)" })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  roles?: string[];
  @ApiPropertyOptional({ enum: ACTIONS, isArray: true, description: 'Extra single actions, for keys narrower than any role (e.g. job-only)' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  actions?: string[];
  @ApiPropertyOptional({ type: ResourceRefDto, description: "Resource the key is for: the presented key's resource or one below it (default: the same)" })
  @IsOptional()
  // an object: ValidateNested alone walks into an array and finds nothing wrong in an empty one
  @IsObject({ message: 'resource must be an object {type, id}' })
  @ValidateNested()
  @Type(() => ResourceRefDto)
  resource?: ResourceRefDto;
  @ApiPropertyOptional({ description: "Expiry (ISO 8601); no later than the presented key's. Default: the presented key's" })
  @IsOptional()
  @StorableDate()
  expiresAt?: Date;
  @ApiPropertyOptional({ description: 'A note for whoever lists keys' }) @IsOptional() @IsString() @MaxLength(255) label?: string;
}
