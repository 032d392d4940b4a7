/** The REST shapes the Mfile and job pages read (see src/mfiles, src/jobs, src/job-outputs and GET /api/v1/tasks). */

export interface Rendition {
  jobOutputId: string;
  jobId: string;
  mimetype: string | null;
  size: number;
  width?: number;
  height?: number;
  url: string;
}

export interface Mfile {
  id: string;
  containerId: string;
  serviceId: string;
  folderId: string;
  name: string;
  size: number;
  md5: string;
  sha256: string;
  mimetype: string;
  metadata: {
    renditions?: Record<string, Rendition>;
    promotedFrom?: { jobOutputId: string; jobId: string };
    image?: Record<string, unknown>;
    video?: Record<string, unknown>;
    [key: string]: unknown;
  };
  createdAt: string;
  updatedAt: string;
  contentUpdatedAt: string;
}

export type JobState = 'waiting' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'skipped'];
export const isFinal = (state: string): boolean => (FINAL_STATES as readonly string[]).includes(state);

export interface Job {
  id: string;
  containerId: string;
  serviceId: string;
  task: string;
  options: Record<string, unknown>;
  queue: string;
  state: JobState;
  progress: number;
  result: Record<string, unknown> | null;
  error: string | null;
  attempts: number;
  workerHost: string | null;
  trigger: string;
  runId: string | null;
  step: string | null;
  condition: { mimetypes?: string[]; minSize?: number; maxSize?: number } | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Only on GET /jobs/:id and POST /jobs (not in lists). */
  mfileIds?: string[];
}

export interface JobOutput {
  id: string;
  containerId: string;
  serviceId: string;
  jobId: string;
  name: string;
  mimetype: string | null;
  size: number | null;
  sha256: string | null;
  md5: string | null;
  data: Record<string, unknown> | null;
  mfileId: string | null;
  createdAt: string;
  hasContent: boolean;
}

export type OptionSpec =
  | { type: 'integer' | 'number'; description: string; default: number; minimum: number; maximum: number }
  | { type: 'string'; description: string; default: string; enum: readonly string[] }
  | { type: 'text'; description: string; default?: string; pattern: string; maxLength: number };

export interface TaskDefinition {
  name: string;
  description: string;
  defaultQueue: string;
  inputs: string[];
  options: Record<string, OptionSpec>;
  outputs: Record<string, string>;
  results: Record<string, string>;
}

export interface Folder {
  id: string;
  serviceId: string;
  parentId: string | null;
  name: string;
}

export interface ServiceSummary {
  id: string;
  name: string;
  containerId: string;
  rootFolderId: string;
}
