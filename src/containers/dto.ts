import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { NameProperty, OptionalNameProperty, PageQuery } from '../common/validation';

export class CreateContainerDto {
  @NameProperty('Container name') name: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
}

export class UpdateContainerDto {
  @OptionalNameProperty() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) description?: string;
  @ApiPropertyOptional({ description: 'Free-form provider properties' }) @IsOptional() @IsObject() properties?: Record<string, unknown>;
}

export class ListContainersQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Case-insensitive substring of the name' }) @IsOptional() @IsString() @MaxLength(255) name?: string;
}
