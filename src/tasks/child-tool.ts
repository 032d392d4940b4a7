import { spawn } from 'node:child_process';

/** What a tool run as a child process said and how it ended. */
export interface ToolRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const MAX_STDOUT = 16 * 1024 * 1024;
const KEPT_STDERR = 64 * 1024;

/**
 * Runs a tool (ffprobe, ffmpeg) to its end, never through a shell. When `signal` aborts, the child is SIGKILLed and the promise
 * rejects with the signal's reason only once the process has ended (a job's runtime is measured until then); an
 * aborted signal does not start it at all.
 */
export function runTool(command: string, args: string[], signal: AbortSignal, onStdoutLine?: (line: string) => void): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (onStdoutLine) {
        // a line at a time (ffmpeg's -progress key=value lines), not kept
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop()!.slice(-4096);
        for (const line of lines) onStdoutLine(line.trim());
      } else if (stdout.length < MAX_STDOUT) stdout += chunk.toString('utf8');
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
