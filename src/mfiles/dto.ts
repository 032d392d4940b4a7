import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { OptionalNameProperty, PageQuery, StorableDate } from '../common/validation';

export class UploadQuery {
  @ApiPropertyOptional({ description: 'File name (required for a raw body; overrides the multipart filename)' }) @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional({ description: "Folder to put the file in (default: the service's root folder)" }) @IsOptional() @IsUUID() folderId?: string;
}

export class UpdateMfileDto {
  @OptionalNameProperty() name?: string;
  @ApiPropertyOptional({ description: 'Move into this folder (same service)' }) @IsOptional() @IsUUID() folderId?: string;
}

export class ListMfilesQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Case-insensitive substring of the name' }) @IsOptional() @IsString() @MaxLength(255) name?: string;
  @ApiPropertyOptional({ description: 'Mimetype, exact or a type wildcard such as image/*' })
  @IsOptional()
  @Matches(/^[a-z0-9!#$&^_.+-]+\/([a-z0-9!#$&^_.+-]+|\*)$/i, { message: 'mimetype must look like image/jpeg or image/*' })
  mimetype?: string;
  @ApiPropertyOptional({ description: 'Only files created at or after this instant (ISO 8601)' }) @IsOptional() @StorableDate() createdFrom?: Date;
  @ApiPropertyOptional({ description: 'Only files created before this instant (ISO 8601)' }) @IsOptional() @StorableDate() createdTo?: Date;
  @ApiPropertyOptional({ description: 'Only files directly in this folder' }) @IsOptional() @IsUUID() folderId?: string;
  @ApiPropertyOptional({ description: 'Sort order (keyset-paged either way)', enum: ['created', 'name'], default: 'created' })
  @IsOptional()
  @IsIn(['created', 'name'])
  sort: 'created' | 'name' = 'created';
}
