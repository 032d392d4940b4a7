import { ValueTransformer } from 'typeorm';

/** pg returns int8 as a string; byte counts stay far below 2^53, so numbers are safe and friendlier. */
export const bigintToNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null || value === undefined ? null : Number(value)),
};

/** A jsonb object column. `any` values because TypeORM's partial-entity types reject `unknown`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = { [key: string]: any };
