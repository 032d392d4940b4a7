import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './client';
import { startRole } from './processes';
import { sharedWith, startTestApp, TestApp } from './test-app';

/** A job as the REST API lists it, the fields the worker suites read. */
export interface JobRow {
  id: string;
  task: string;
  step: string;
  state: string;
  error: string | null;
  result: any;
  workerHost: string;
  progress: number;
  mfileIds: string[];
  runId: string | null;
}

/** States a job does not leave. */
export const FINAL_JOB_STATES = ['succeeded', 'failed', 'cancelled', 'skipped'];

export interface AppWithWorker {
  app: TestApp;
  admin: Client;
  worker: ReturnType<typeof startRole>;
  /** A scratch folder for the suite's own files (media made with ffmpeg, ...). */
  work: string;
}

/**
 * For a describe block: the real api in process and a real worker process on its storage and queues (sharp in
 * process, ffmpeg as children), a provider client and a scratch folder — all stopped and removed after the block.
 * The fields are filled in beforeAll.
 */
export function appWithWorker(scratchPrefix: string, queues = 'normal:4,priority:1'): AppWithWorker {
  const env = {} as AppWithWorker;
  beforeAll(async () => {
    env.app = await startTestApp();
    env.admin = new Client(env.app.api, env.app.adminKey);
    env.work = mkdtempSync(join(tmpdir(), scratchPrefix));
    env.worker = startRole('worker', { ...sharedWith(env.app.config), LOG_LEVEL: 'warn' }, ['--queues', queues]);
  });
  afterAll(async () => {
    if (env.worker?.exitCode === null) env.worker.kill('SIGKILL');
    if (env.work) rmSync(env.work, { recursive: true, force: true });
    await env.app?.close();
  });
  return env;
}
