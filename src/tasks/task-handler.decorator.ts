import { SetMetadata } from '@nestjs/common';
import { JsonObject } from '../database/columns';
import { Mfile } from '../mfiles/mfile.entity';
import { StoredBlob } from '../storage/content-store';
import { SharedInput } from './shared-input';
import { TaskName, TaskTypes } from './task-catalogue';

export const TASK_HANDLER_METADATA = 'mserve:task-handler';

export interface TaskContext<N extends TaskName> {
  jobId: string;
  /** The service (and its container) the job runs for: where a task without input looks for its target. */
  serviceId: string;
  containerId: string;
  /** Empty for a job made without input (`Job.withoutInput`). */
  inputs: Mfile[];
  options: TaskTypes[N]['options'];
  /** 0..100; throttled and stored on the job. */
  reportProgress(percent: number): Promise<void>;
  /**
   * Aborted when the job must stop: cancelled, over its time limit, or the worker shutting down (the reason is a
   * TaskStopped). A handler that runs a child process kills it and settles only once the process has ended.
   */
  signal: AbortSignal;
  /**
   * The first input read once for every step of a batch that works on it (absent for a lone job, or an input too large
   * to hold in memory): a handler that reads the whole input uses it instead of reading the file again.
   */
  shared?: SharedInput;
}

/** Why a running job was stopped from outside its handler. */
export class TaskStopped extends Error {
  constructor(
    readonly why: 'cancelled' | 'timeout' | 'shutdown',
    message: string,
  ) {
    super(message);
  }
}

/** A file a task made: stored as a job output (and linked from the Mfile's metadata under `renditions[role]`). */
export interface TaskOutputFile {
  name: string;
  role: string;
  blob: StoredBlob;
  mimetype: string;
  data?: JsonObject;
}

/** What a task changes on its input Mfile, applied in the transaction that records its success. */
export interface MfilePatch {
  mimetype?: string;
  /** Merged into the Mfile's metadata (top-level keys replaced). */
  metadata?: JsonObject;
  /** New bytes for the Mfile: the old blob is released once the change committed. */
  content?: StoredBlob;
  /** The new bytes are new content (fetched), not a restore of the same: metered as ingest, contentUpdatedAt moves. */
  newContent?: boolean;
}

/**
 * Where a task without input (fetch-url into a folder) puts what it found: the file of that name it found there
 * (its `mfilePatch` applies to it as to an input, its new bytes kept only while the file still holds the bytes it
 * read: `blobKey`, `sha256`), or, when there was none, a new file (`mfilePatch.content` its bytes, committed as any
 * new file: quotas, usage, its ingest pipeline, `mfile.created`).
 */
export type TaskTarget =
  { kind: 'existing'; mfileId: string; blobKey: string; sha256: string } | { kind: 'new'; mfileId: string; folderId: string; name: string };

/** What a handler says happened. Throwing means "retry me"; throwing a TaskFailure (or returning failed) does not. */
/** A metric a task measured, recorded with its outcome: about the job, its input Mfile, or a backup copy of it. */
export interface TaskUsage {
  metric: string;
  value: number;
  about?: 'mfile' | 'backup';
}

/**
 * What a handler returns. `discard` undoes what it stored outside the content store (a backup copy) when the
 * outcome cannot be recorded (a disk quota refused it, or the job was cancelled meanwhile).
 */
export type TaskOutcome<N extends TaskName> =
  | {
      status: 'succeeded';
      result: TaskTypes[N]['result'];
      outputs?: TaskOutputFile[];
      mfilePatch?: MfilePatch;
      /** A task without input: the file its `mfilePatch` is for. */
      target?: TaskTarget;
      usage?: TaskUsage[];
      discard?: () => Promise<void>;
    }
  | { status: 'failed'; error: string };

/** A permanent failure (bad input, unsupported content): the job fails at once, without retries. */
export class TaskFailure extends Error {}

export type TaskHandlerFunction<N extends TaskName> = (context: TaskContext<N>) => Promise<TaskOutcome<N>>;

/** Marks a provider method as the handler of a task; the registry finds it at boot. */
export const TaskHandler = (task: TaskName) => SetMetadata(TASK_HANDLER_METADATA, task);
