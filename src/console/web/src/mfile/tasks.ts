import { api } from '../api';
import type { TaskDefinition } from './types';

let registry: Promise<TaskDefinition[]> | null = null;

/** The task registry (GET /api/v1/tasks), read once per page load; a failed read is tried again next time. */
export function loadTasks(): Promise<TaskDefinition[]> {
  registry ??= api<{ items: TaskDefinition[] }>('/tasks').then(
    (answer) => answer.items,
    (error: unknown) => {
      registry = null;
      throw error;
    },
  );
  return registry;
}
