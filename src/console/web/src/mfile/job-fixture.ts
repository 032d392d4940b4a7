import type { Job } from './types';

/** A job as the API lists it, for the console's unit tests: a queued md5 of the ingest trigger unless `patch` says otherwise. */
export const makeJob = (id: string, patch: Partial<Job> = {}): Job => ({
  id,
  containerId: 'c',
  serviceId: 's',
  task: 'md5',
  options: {},
  queue: 'normal',
  state: 'queued',
  progress: 0,
  result: null,
  error: null,
  attempts: 0,
  workerHost: null,
  trigger: 'ingest',
  runId: null,
  step: null,
  condition: null,
  requestedByKeyId: null,
  mfileIds: [],
  withoutInput: false,
  createdAt: '2025-01-01T00:00:00Z',
  updatedAt: '2025-01-01T00:00:00Z',
  startedAt: null,
  finishedAt: null,
  ...patch,
});
