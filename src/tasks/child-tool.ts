import { spawn } from 'node:child_process';

/** What ffprobe said and how it ended. */
export interface ProbeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const MAX_STDOUT = 16 * 1024 * 1024;
const KEPT_STDERR = 64 * 1024;

/**
 * Runs ffprobe (found on PATH) to its end, never through a shell. When `signal` aborts, ffprobe is SIGKILLed and the
 * promise rejects with the signal's reason only once the process has ended (a job's runtime is measured until then);
 * an aborted signal does not start it at all.
 *
 * The one exception to "media tools run through fluent-ffmpeg" (ffmpeg does, in video.handlers.ts): fluent-ffmpeg's
 * ffprobe (`ffmpeg.ffprobe(path, options, cb)`, lib/ffprobe.js) keeps its child process in a local variable and
 * exposes no kill and no process, so a cancel, a time limit or a shutdown could not stop a running ffprobe, and the job
 * would have to settle before it ended or wait for it. It also parses ffprobe's default text output, in which a
 * tag's value can carry newlines that read as fields (`width=`, `[STREAM]`); JSON, read here, cannot be forged so.
 */
export function runFfprobe(args: string[], signal: AbortSignal): Promise<ProbeRun> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const child = spawn('ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < MAX_STDOUT) stdout += chunk.toString('utf8');
      else child.kill('SIGKILL');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-KEPT_STDERR)));
    const kill = () => child.kill('SIGKILL');
    signal.addEventListener('abort', kill, { once: true });
    child.on('error', (error) => {
      signal.removeEventListener('abort', kill);
      reject(error);
    });
    child.on('close', (code, exitSignal) => {
      signal.removeEventListener('abort', kill);
      if (signal.aborted) reject(signal.reason as Error);
      else resolve({ code, signal: exitSignal, stdout, stderr });
    });
  });
}
