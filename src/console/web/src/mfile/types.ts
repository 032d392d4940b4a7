/** The REST shapes the Mfile and job pages read (see src/mfiles, src/jobs, src/job-outputs and GET /api/v1/tasks). */
import type { JobState, Schemas } from '../browse/types';
import type { TaskDefinition as CatalogueTask } from '../../../../tasks/task-catalogue';

export type { Job, JobState, Mfile, Rendition } from '../browse/types';
export type { OptionSpec } from '../../../../tasks/task-catalogue';

export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'skipped'];
export const isFinal = (state: string): boolean => (FINAL_STATES as readonly string[]).includes(state);

/** A job output as the API answers it (the generated contract). */
export type JobOutput = Schemas['JobOutput'];

/** A task as GET /api/v1/tasks lists it: the catalogue's definition (src/tasks/task-catalogue.ts), its name as JSON carries it. */
export type TaskDefinition = Omit<CatalogueTask, 'name'> & { name: string };

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
