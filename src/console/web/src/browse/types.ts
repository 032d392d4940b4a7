/** The REST API resources as the browse pages read them (the entities under src/ and what the controllers answer). */

export interface Container {
  id: string;
  name: string;
  description: string | null;
  properties: Record<string, unknown>;
  suspended: boolean;
  diskQuota: number | null;
  ingestQuota: number | null;
  jobruntimeQuota: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface Service {
  id: string;
  containerId: string;
  name: string;
  description: string | null;
  suspended: boolean;
  startsAt: string | null;
  endsAt: string | null;
  priority: boolean;
  accessSpeed: number | null;
  diskQuota: number | null;
  ingestQuota: number | null;
  jobruntimeQuota: number | null;
  profile: string | null;
  properties: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /** On GET /services/:id (not in container listings). */
  rootFolderId?: string;
}

export interface Mfolder {
  id: string;
  containerId: string;
  serviceId: string;
  parentId: string | null;
  name: string;
  createdAt: string;
  updatedAt: string;
}

/** A file a task made for an Mfile, linked from its metadata under `renditions[role]` (thumbnail, poster, proxy...). */
export interface Rendition {
  jobOutputId: string;
  jobId: string;
  mimetype: string;
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
  /** The files it ran on (GET /jobs/:id, POST /jobs and lists). */
  mfileIds?: string[];
  /** In lists, for keys that may read files: the files' names too. */
  inputs?: Array<{ id: string; name: string }>;
}

/** A created resource with the key that came with it (its secret is shown once). */
export type WithKey<T> = T & { key: string; keyId: string };
export type CreatedService = WithKey<Service> & { rootFolderId: string; customerKey: string; customerKeyId: string };
