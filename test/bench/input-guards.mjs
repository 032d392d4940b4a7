// What refusing bad input before any route costs (src/common/request-guards.ts), each figure against a baseline
// measured in the same run:
//  1. in process: the guard's walk of a parsed JSON body vs JSON.parse of the same body (which every JSON request
//     already pays), for a typical create body, a ~60 KiB properties document, a 1 MiB array of numbers 63 levels
//     down (the shape that cost 1.7 s and 520 MB before the walk was rewritten) and 1 MiB of strings
//  2. over HTTP against the built api: POST /api/v1/containers without a key (answered 401 after the body parser
//     and the guard) with the hostile 1 MiB body vs a 1 MiB body that is one string; and the api's RSS growth while
//     CONCURRENCY hostile bodies arrive at once
//
//   npm run build
//   node_modules/.bin/node test/bench/input-guards.mjs      # RUNS=50 CONCURRENCY=20
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fmt, median, onCleanup, ROOT, rssKb, runBench, say, startPlatform, table } from './harness.mjs';

const RUNS = Number(process.env.RUNS ?? 50);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 20);
const require = createRequire(join(ROOT, 'package.json'));
const { jsonBodyProblem } = require('./dist/src/common/request-guards.js');

const time = (fn) => {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
};

const BODIES = {
  'create body (180 B)': JSON.stringify({
    name: 'Summer fair 2026',
    description: 'Pictures and video from the fair',
    properties: { department: 'news', costCentre: 4711, tags: ['summer', 'fair'] },
  }),
  'properties (~60 KiB)': JSON.stringify({
    properties: Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`field-${i}`, { label: `value ${i}`, n: i, on: i % 2 === 0 }])),
  }),
  'numbers 63 deep (1 MiB)': `${'['.repeat(62)}[${Array(500_000).fill(0).join(',')}]${']'.repeat(62)}`,
  'strings (1 MiB)': JSON.stringify(Array.from({ length: 90_000 }, (_, i) => `name-${i}`)),
};

function inProcess() {
  const rows = [];
  for (const [what, text] of Object.entries(BODIES)) {
    JSON.parse(text); // the shape must parse
    const parse = [];
    const walk = [];
    for (let run = 0; run < RUNS; run++) {
      let value;
      parse.push(time(() => (value = JSON.parse(text))));
      walk.push(
        time(() => {
          if (jsonBodyProblem(value) !== undefined) throw new Error(`the guard refused the ${what} body`);
        }),
      );
    }
    rows.push([what, `${(text.length / 1024).toFixed(0)} KiB`, fmt(median(parse), 3), fmt(median(walk), 3), fmt(median(walk) / median(parse), 2)]);
  }
  return rows;
}

async function post(url, body) {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await response.arrayBuffer();
  if (response.status !== 401) throw new Error(`expected 401 (no key), got ${response.status}`);
  return performance.now() - started;
}

await runBench(async () => {
  say(
    `load average ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}`,
  );
  const rows = inProcess();
  console.log(`\nThe guard's walk vs JSON.parse of the same body (in process, medians of ${RUNS}, ms)\n`);
  console.log(table(['body', 'size', 'JSON.parse', 'guard walk', 'walk / parse'], rows));

  const varDir = mkdtempSync(join(tmpdir(), 'mserve-bench-guards-'));
  onCleanup('remove temp folder', () => rmSync(varDir, { recursive: true, force: true }));
  const platform = await startPlatform({ varDir, storageDir: join(varDir, 'storage'), env: { MAX_JSON_BYTES: String(2 * 1024 * 1024) } });
  const url = `${platform.v1}/containers`;
  const hostile = BODIES['numbers 63 deep (1 MiB)'];
  const plain = JSON.stringify({ name: 'x'.repeat(hostile.length - 12) });
  for (let run = 0; run < 5; run++) await post(url, plain); // warm up
  const hostileMs = [];
  const plainMs = [];
  for (let run = 0; run < RUNS; run++) {
    plainMs.push(await post(url, plain));
    hostileMs.push(await post(url, hostile));
  }
  const before = rssKb(platform.api.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKb(platform.api.pid))), 20);
  const burst = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, () => post(url, hostile)));
  const burstMs = performance.now() - burst;
  clearInterval(sampler);
  const live = performance.now();
  await fetch(`${platform.apiBase}/health/live`);
  console.log(`\nOver HTTP: POST /api/v1/containers without a key, 1 MiB bodies (medians of ${RUNS}, ms)\n`);
  console.log(
    table(
      ['body', 'ms', 'baseline (one 1 MiB string)', 'ratio'],
      [['numbers 63 deep', fmt(median(hostileMs), 2), fmt(median(plainMs), 2), fmt(median(hostileMs) / median(plainMs), 2)]],
    ),
  );
  console.log(
    `\n${CONCURRENCY} hostile bodies at once: all answered in ${fmt(burstMs, 0)} ms; api RSS ${fmt(before / 1024, 0)} → peak ${fmt(peak / 1024, 0)} MiB (+${fmt((peak - before) / 1024, 0)}); /health/live right after: ${fmt(performance.now() - live, 1)} ms`,
  );
});
