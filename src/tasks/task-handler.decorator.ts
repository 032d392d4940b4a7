import { SetMetadata } from '@nestjs/common';
import { Mfile } from '../mfiles/mfile.entity';
import { TaskName, TaskTypes } from './task-catalogue';

export const TASK_HANDLER_METADATA = 'mserve:task-handler';

export interface TaskContext<N extends TaskName> {
  jobId: string;
  inputs: Mfile[];
  options: TaskTypes[N]['options'];
  /** 0..1; throttled and stored on the job. */
  reportProgress(fraction: number): Promise<void>;
}

/** What a handler says happened. Throwing means "retry me"; a permanent failure is returned, not thrown. */
export type TaskOutcome<N extends TaskName> = { status: 'succeeded'; result: TaskTypes[N]['result'] } | { status: 'failed'; error: string };

export type TaskHandlerFunction<N extends TaskName> = (context: TaskContext<N>) => Promise<TaskOutcome<N>>;

/** Marks a provider method as the handler of a task; the registry finds it at boot. */
export const TaskHandler = (task: TaskName) => SetMetadata(TASK_HANDLER_METADATA, task);
