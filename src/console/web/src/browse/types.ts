/**
 * The REST API resources as the browse pages read them: the generated contract (src/common/api-contract.ts, made by
 * openapi-typescript from docs/openapi.json), so a change to what the API answers is a type error here.
 */
import type { components } from '../../../../common/api-contract';

/** Every named schema of the contract: the console's one way to name what the API answers. */
export type Schemas = components['schemas'];

export type Container = Schemas['Container'];
export type Service = Schemas['Service'];
export type Mfolder = Schemas['Mfolder'];
/** A file a task made for an Mfile, linked from its metadata under `renditions[role]` (thumbnail, poster, proxy...). */
export type Rendition = Schemas['Rendition'];
export type Mfile = Schemas['Mfile'];
export type JobState = Schemas['JobState'];
export type Job = Schemas['Job'];
/** A created resource with the key that came with it (its secret is shown once). */
export type WithKey<T> = T & { key: string; keyId: string };
export type CreatedService = Schemas['CreatedService'];
