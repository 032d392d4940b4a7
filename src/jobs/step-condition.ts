/**
 * A step's condition, as data (never code): input mimetype globs and a size range in bytes. In a file of its own,
 * free of TypeORM, so the profile rules (pipelines/profile.ts) also compile and run in the console.
 */
export interface StepCondition {
  mimetypes?: string[];
  minSize?: number;
  maxSize?: number;
}
