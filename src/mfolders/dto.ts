import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { NameProperty, OptionalNameProperty, PageQuery } from '../common/validation';

export class CreateMfolderDto {
  @NameProperty('Folder name') name: string;
}

export class UpdateMfolderDto {
  @OptionalNameProperty() name?: string;
  @ApiPropertyOptional({ description: 'Move under this folder (same service)' }) @IsOptional() @IsUUID() parentId?: string;
}

export class ListMfoldersQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Case-insensitive substring of the name' }) @IsOptional() @IsString() @MaxLength(255) name?: string;
}
