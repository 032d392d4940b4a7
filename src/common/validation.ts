import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsDate, IsInt, IsNumber, IsOptional, IsString, Max, MaxDate, Min, MinDate, registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';
import { appQuotasProblem } from './app-quotas';
import { freeFormPropertiesProblem } from './free-form';
import { normalizeName, unsafeNameReason } from './file-name';

export { FREE_FORM_LIMITS, freeFormPropertiesProblem } from './free-form';
export { APP_METRIC_NAME, appQuotasProblem, MAX_APP_QUOTAS } from './app-quotas';
/** The file-name rule lives in ./file-name (Node-free, shared with the console); re-exported for the API's callers. */
export { normalizeName, unsafeNameReason } from './file-name';

/**
 * A property decorator from one of our Node-free rules (`problem(value)`: what is wrong, or null): the value passes
 * when there is no problem, and the 400 says "<property> <problem>", in the rule's own words.
 */
export function SatisfiesRule(name: string, problem: (value: unknown) => string | null, options?: ValidationOptions) {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate: (value: unknown) => problem(value) === null,
        defaultMessage: (args) => `${args?.property} ${problem(args?.value)}`,
      },
    });
}

/** Optional free-form properties, replaced whole on update (send the object you want to keep). */
export const FreeFormProperties = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({
      description: `${description}: a JSON object, replaced whole when given (at most 64 KiB as JSON, 16 levels deep)`,
      type: 'object',
      additionalProperties: true,
      example: { department: 'news', costCentre: 4711 },
    }),
    // absent is fine; null is not (IsOptional would let it through to a NOT NULL column)
    ValidateIf((_, value) => value !== undefined),
    SatisfiesRule('isFreeFormProperties', freeFormPropertiesProblem),
  );

/** The instants a date input may name: four-digit years, all PostgreSQL stores (JS dates reach ±271,821 years). */
export const DATE_RANGE = { min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z') } as const;

/** A date input (ISO 8601 text, or milliseconds as a JSON number) within DATE_RANGE; a 400 that says so otherwise. */
export const StorableDate = () => {
  const message = (args: { property: string }) => `${args.property} must be an ISO 8601 date between 0001-01-01 and 9999-12-31`;
  return applyDecorators(
    Type(() => Date),
    IsDate({ message }),
    MinDate(DATE_RANGE.min, { message }),
    MaxDate(DATE_RANGE.max, { message }),
  );
};

export const IsSafeName = (options?: ValidationOptions) => SatisfiesRule('isSafeName', unsafeNameReason, options);

/** A name as given, in Unicode NFC (the form names are checked, compared and stored in). */
const NormalizedName = () => Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? normalizeName(value) : value));

/** A required, safe resource name, documented. */
export const NameProperty = (description = 'Name (1-255 bytes of UTF-8 in NFC, no / \\, control or format characters)') =>
  applyDecorators(ApiProperty({ description, example: 'holiday-2026.jpg' }), NormalizedName(), IsSafeName());

export const OptionalNameProperty = (description = 'New name') =>
  applyDecorators(ApiPropertyOptional({ description }), IsOptional(), NormalizedName(), IsSafeName());

/** An optional limit in bytes (a whole number ≥ 0), null to clear it. Quotas of services and containers alike. */
export const ByteLimitProperty = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({ description, nullable: true, type: Number }),
    IsOptional(),
    ValidateIf((_, v) => v !== null),
    IsInt(),
    Min(0),
    Max(Number.MAX_SAFE_INTEGER),
  );

/** An optional limit in seconds (a finite number ≥ 0), null to clear it. */
export const SecondsLimitProperty = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({ description, nullable: true, type: Number }),
    IsOptional(),
    ValidateIf((_, v) => v !== null),
    IsNumber({ allowNaN: false, allowInfinity: false }),
    Min(0),
  );

/** Optional monthly limits on an application's own metrics (`{"pages-rendered": 10000}`), replaced whole; null clears. */
export const AppQuotasProperty = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({ description, nullable: true, type: 'object', additionalProperties: { type: 'number' }, example: { 'pages-rendered': 10000 } }),
    // the map as sent: the transform to the DTO would drop keys named like Object.prototype members, and the rule
    // must see them to refuse them (not store a map without them)
    Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => obj[key]),
    IsOptional(),
    ValidateIf((_, value) => value !== null),
    SatisfiesRule('isAppQuotas', appQuotasProblem),
  );

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
