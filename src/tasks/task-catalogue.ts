import { QueueName } from '../queues/queue-names';

export enum TaskName {
  Md5 = 'md5',
  Sha256 = 'sha256',
}

/** What each task accepts and returns, so dispatch and handlers are checked by the compiler. */
export interface TaskTypes {
  [TaskName.Md5]: { options: Record<string, never>; result: { md5: string; matchesRecorded: boolean } };
  [TaskName.Sha256]: { options: Record<string, never>; result: { sha256: string; matchesRecorded: boolean } };
}

export interface TaskDefinition {
  name: TaskName;
  description: string;
  defaultQueue: string;
  /** Accepted input mimetypes (globs). */
  inputs: string[];
  options: Record<string, { type: string; description: string; default?: unknown }>;
  results: Record<string, string>;
}

export const TASKS: Record<TaskName, TaskDefinition> = {
  [TaskName.Md5]: {
    name: TaskName.Md5,
    description: 'Re-reads the stored bytes and computes their MD5; reports whether it matches the recorded one',
    defaultQueue: QueueName.Normal,
    inputs: ['*/*'],
    options: {},
    results: { md5: 'hex MD5 of the stored bytes', matchesRecorded: 'whether it equals the MD5 recorded at ingest' },
  },
  [TaskName.Sha256]: {
    name: TaskName.Sha256,
    description: 'Re-reads the stored bytes and computes their SHA-256; reports whether it matches the recorded one',
    defaultQueue: QueueName.Normal,
    inputs: ['*/*'],
    options: {},
    results: { sha256: 'hex SHA-256 of the stored bytes', matchesRecorded: 'whether it equals the SHA-256 recorded at ingest' },
  },
};

export function isTaskName(name: string): name is TaskName {
  return Object.prototype.hasOwnProperty.call(TASKS, name);
}
