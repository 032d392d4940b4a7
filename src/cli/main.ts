#!/usr/bin/env node
/**
 * `mserve`, the command-line client (the package's bin): uploads, downloads, listings, jobs, keys and usage over
 * the REST API with one key. See `mserve help`.
 */
import { run } from './commands';

const stop = new AbortController();
let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    // the first asks long commands to stop cleanly (uploads pause, to resume on the next run); a second ends at once
    if (++signals > 1) process.exit(130);
    stop.abort();
  });

const readStdin = async (): Promise<string> => {
  if (process.stdin.isTTY) {
    process.stderr.write('key: ');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

run(process.argv.slice(2), {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  stdin: readStdin,
  signal: stop.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`mserve: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
