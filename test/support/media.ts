import { execFile } from 'node:child_process';

/** Runs a command to its end; rejects with its stderr when it fails. */
export const run = (command: string, args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command}: ${stderr || error.message}`)) : resolve(stdout),
    ),
  );

/** A real H.264 test video (ffmpeg's testsrc pattern) of `seconds` at `size` and `rate` frames/s, written to `path`. */
export const testClip = (path: string, seconds: number, size = '640x480', rate = 25) =>
  run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc=duration=${seconds}:size=${size}:rate=${rate}`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    path,
  ]);
