// Summarises V8 .cpuprofile files (node --cpu-prof; BENCH_CPU_PROF=<dir> makes the harness write one per process):
// the top functions by self time and by total time (function + file:line), self time by file (our own dist/src
// files by name, dependencies by package), and by category (ours, each top dependency, node internals, GC, idle).
//
//   node test/bench/cpuprofile-summary.mjs /tmp/prof/api.cpuprofile [more.cpuprofile ...]   # TOP=25
//
// Total time counts a function once per sample even when it is on the stack more than once (recursion).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const TOP = Number(process.env.TOP ?? 25);
const files = process.argv.slice(2);
if (!files.length) {
  process.stderr.write('usage: node test/bench/cpuprofile-summary.mjs <file.cpuprofile> [...]\n');
  process.exit(2);
}

/** Where a script url belongs: our source file, a package, node internals, or V8/program. */
function owner(url) {
  if (!url) return '(native/program)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 14).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const ours = /\/dist\/(src\/.*)$/.exec(url);
  if (ours) return ours[1];
  return url.replace(/^file:\/\//, '');
}
const category = (url) => {
  const o = owner(url);
  if (o.startsWith('src/')) return 'ours (dist/src)';
  return o;
};

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // sample durations: timeDeltas[i] is the time before sample i
  const selfUs = new Map();
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = deltas[i + 1] ?? deltas[i] ?? 0;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + us);
  }
  const totalUs = profile.endTime - profile.startTime;
  const key = (n) => `${n.callFrame.functionName || '(anonymous)'} ${owner(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map();
  const total = new Map();
  const byFile = new Map();
  const byCategory = new Map();
  let idle = 0;
  let gc = 0;
  let program = 0;
  for (const [id, us] of selfUs) {
    const n = nodes.get(id);
    const name = n.callFrame.functionName;
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (name === '(garbage collector)') gc += us;
    if (name === '(program)') program += us;
    const k = key(n);
    self.set(k, (self.get(k) ?? 0) + us);
    const o = owner(n.callFrame.url);
    byFile.set(o, (byFile.get(o) ?? 0) + us);
    const c = name === '(garbage collector)' ? '(gc)' : name === '(program)' ? '(program)' : category(n.callFrame.url);
    byCategory.set(c, (byCategory.get(c) ?? 0) + us);
    // total: every distinct function on this sample's stack
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const kk = key(nodes.get(at));
      if (seen.has(kk) || nodes.get(at).callFrame.functionName === '(root)') continue;
      seen.add(kk);
      total.set(kk, (total.get(kk) ?? 0) + us);
    }
  }
  const busy = [...self.values()].reduce((a, b) => a + b, 0);
  const ms = (us) => (us / 1000).toFixed(0).padStart(7);
  const pct = (us) => ((100 * us) / busy).toFixed(1).padStart(5) + '%';
  const top = (map, n = TOP) => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  const out = [];
  out.push(
    `== ${basename(file)}: ${(totalUs / 1e6).toFixed(1)} s profiled, busy ${(busy / 1e6).toFixed(1)} s (idle ${(idle / 1e6).toFixed(1)} s), GC ${(gc / 1e6).toFixed(1)} s, (program) ${(program / 1e6).toFixed(1)} s`,
  );
  out.push('-- busy time by owner (our dist/src files by name, packages by name):');
  for (const [k, us] of top(byCategory, 15)) out.push(`${ms(us)} ms ${pct(us)}  ${k}`);
  out.push('-- self time by file (ours and packages):');
  for (const [k, us] of top(byFile, 20)) out.push(`${ms(us)} ms ${pct(us)}  ${k}`);
  out.push(`-- top ${TOP} functions by self time:`);
  for (const [k, us] of top(self)) out.push(`${ms(us)} ms ${pct(us)}  ${k}`);
  out.push(`-- top ${TOP} functions by total time (inclusive), our own code (dist/src) only:`);
  for (const [k, us] of top(new Map([...total].filter(([k]) => / src\//.test(k))))) out.push(`${ms(us)} ms ${pct(us)}  ${k}`);
  out.push(`-- top ${TOP} functions by total time (inclusive), all:`);
  for (const [k, us] of top(total)) out.push(`${ms(us)} ms ${pct(us)}  ${k}`);
  process.stdout.write(out.join('\n') + '\n\n');
}
