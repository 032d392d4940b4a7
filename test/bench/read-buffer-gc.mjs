// Micro-benchmark behind a finding of issue 17: reading a SMALL file through fs.createReadStream with a 1 MiB
// highWaterMark (what the worker's md5/backup paths and the content store's re-hash did at fe8b27a) allocates a
// 1 MiB buffer per read; V8 counts it as external memory and runs far more full GCs. Compares highWaterMark 1 MiB
// with 64 KiB (Node's default) on the same 200 files of 0.5-16 KiB, read and md5-hashed 25 times each.
//
//   node test/bench/read-buffer-gc.mjs            # prints one line per setting, twice, alternating
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createReadStream } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'mserve-bench-read-gc-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
mkdirSync(dir, { recursive: true });
for (let i = 0; i < 200; i++) writeFileSync(join(dir, String(i)), Buffer.alloc(512 + i * 80, i));
let gcMs = 0;
let gcs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    gcs++;
  }
}).observe({ entryTypes: ['gc'] });

async function run(highWaterMark) {
  gcMs = 0;
  gcs = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (let round = 0; round < 25; round++)
    for (let i = 0; i < 200; i++) {
      const hash = createHash('md5');
      await pipeline(
        createReadStream(join(dir, String(i)), { highWaterMark }),
        new Writable({
          write(chunk, _encoding, callback) {
            hash.update(chunk);
            callback();
          },
        }),
      );
    }
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 50));
  process.stdout.write(
    `highWaterMark ${String(highWaterMark / 1024).padStart(4)} KiB: 5000 reads + md5 of 0.5-16 KiB files: ${(performance.now() - started).toFixed(0)} ms, CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, GC ${gcMs.toFixed(0)} ms in ${gcs} collections\n`,
  );
}
for (const hwm of [1024 * 1024, 64 * 1024, 1024 * 1024, 64 * 1024]) await run(hwm);
