import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, registerDecorator, ValidationOptions } from 'class-validator';

/** Why a name is unsafe, or null when it is fine. Names become WebDAV paths and download file names. */
export function unsafeNameReason(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'must not be empty';
  if (Buffer.byteLength(value, 'utf8') > 255) return 'must be at most 255 bytes of UTF-8';
  if (value === '.' || value === '..') return 'must not be . or ..';
  if (/[\/\\]/.test(value)) return 'must not contain / or \\';
  if (/[\x00-\x1f\x7f]/.test(value)) return 'must not contain NUL or control characters';
  if (value !== value.trim()) return 'must not start or end with whitespace';
  return null;
}

export function IsSafeName(options?: ValidationOptions) {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isSafeName',
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate: (value: unknown) => unsafeNameReason(value) === null,
        defaultMessage: (args) => `${args?.property} ${unsafeNameReason(args?.value)}`,
      },
    });
}

/** A required, safe resource name, documented. */
export const NameProperty = (description = 'Name (1-255 bytes, no / \\ or control characters)') =>
  applyDecorators(ApiProperty({ description, example: 'holiday-2026.jpg' }), IsSafeName());

export const OptionalNameProperty = (description = 'New name') =>
  applyDecorators(ApiPropertyOptional({ description }), IsOptional(), IsSafeName());

export class PageQuery {
  @ApiPropertyOptional({ description: 'Opaque cursor from a previous page (`nextCursor`)' })
  @IsOptional()
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({ description: 'Items per page', minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 100;
}
