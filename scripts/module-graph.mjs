#!/usr/bin/env node
// The module diagram, generated from the code: which folder of src/ imports which (dependency-cruiser reads the
// imports, type-only ones included). `node scripts/module-graph.mjs` writes docs/modules.md; `--check` (run by
// `npm run lint`) fails when that file is stale or when a folder-level import cycle appears that is not in
// FOLDER_CYCLES_ACCEPTED below. File-level cycles are refused outright by eslint (import-x/no-cycle).
import { cruise } from 'dependency-cruiser';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'docs', 'modules.md');

/**
 * Folder pairs that import each other today, each with the reason it is accepted. A new pair fails the check:
 * break it by moving the rule to where it belongs (docs/architecture.md, "Layers").
 */
const FOLDER_CYCLES_ACCEPTED = {
  'containers <-> services':
    'a service belongs to its container (entity), and deleting a container locks its services first, in the order quota checks take them',
  'deletion <-> jobs':
    "backup copies are recorded as backup jobs' results (no table of their own), so the delete routine asks the job repository for them; a job delete uses the routine",
  'job-outputs <-> jobs': 'an output belongs to its job (entity), and deleting a job deletes its outputs',
  'jobs <-> pipelines': 'the engine creates and settles job rows; the jobs API runs manual pipelines through the engine',
  'mfiles <-> mfolders': 'a file sits in a folder (entity); a folder listing (WebDAV) and a folder delete read its files',
  'mfiles <-> pipelines': 'uploads trigger pipelines; periodic and manual pipelines read the files they run on',
  'mfolders <-> services': 'a folder belongs to its service (entity); a new service gets its root folder',
  'pipelines <-> services': 'a profile belongs to its service (entity); services sync their schedules and profiles through the engine',
};

const result = await cruise(['src'], {
  baseDir: root,
  tsConfig: { fileName: join(root, 'tsconfig.json') },
  tsPreCompilationDeps: true,
  doNotFollow: { path: 'node_modules' },
  exclude: { path: ['src/console/web', '\\.spec\\.ts$'] },
});
const modules = result.output.modules;

const folderOf = (path) => {
  const match = /^src\/([^/]+)\//.exec(path);
  return match ? match[1] : null;
};
const edges = new Map();
for (const module of modules) {
  const from = folderOf(module.source);
  if (!from) continue;
  for (const dependency of module.dependencies) {
    const to = folderOf(dependency.resolved);
    if (!to || to === from) continue;
    if (!edges.has(from)) edges.set(from, new Set());
    edges.get(from).add(to);
  }
}
const folders = [...new Set([...edges.keys(), ...[...edges.values()].flatMap((set) => [...set])])].sort();
const pairs = [];
for (const a of folders) for (const b of edges.get(a) ?? []) if (a < b && edges.get(b)?.has(a)) pairs.push(`${a} <-> ${b}`);
pairs.sort();

// strongly connected components: folders that reach each other through longer chains
let index = 0;
const order = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
const visit = (v) => {
  order.set(v, index);
  low.set(v, index);
  index += 1;
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v) ?? []) {
    if (!order.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), order.get(w)));
  }
  if (low.get(v) === order.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) components.push(component.sort());
  }
};
for (const folder of folders) if (!order.has(folder)) visit(folder);

const lines = [
  '# Module dependencies',
  '',
  'Generated from the imports by `node scripts/module-graph.mjs` (dependency-cruiser); `npm run lint` fails when',
  'this file is stale or a new folder-level cycle appears. An arrow means "imports from". See',
  '[architecture.md](architecture.md) for the layers these folders belong to.',
  '',
  '```mermaid',
  'flowchart LR',
  ...folders.flatMap((from) => [...(edges.get(from) ?? [])].sort().map((to) => `  ${from.replace(/-/g, '_')}[${from}] --> ${to.replace(/-/g, '_')}[${to}]`)),
  '```',
  '',
  `## Folder-level cycles: ${pairs.length} pair${pairs.length === 1 ? '' : 's'} importing each other`,
  '',
  ...(pairs.length ? pairs.map((pair) => `- ${pair}${FOLDER_CYCLES_ACCEPTED[pair] ? `: ${FOLDER_CYCLES_ACCEPTED[pair]}` : ''}`) : ['None.']),
  '',
  `Strongly connected groups (folders that reach each other through longer chains): ${components.length ? components.map((c) => `{${c.join(', ')}}`).join('; ') : 'none'}.`,
  '',
  `Files: ${modules.filter((module) => module.source.startsWith('src/')).length}; import edges between folders: ${[...edges.values()].reduce((sum, set) => sum + set.size, 0)}.`,
  '',
];
const text = lines.join('\n');

if (process.argv.includes('--check')) {
  const failures = [];
  const unaccepted = pairs.filter((pair) => !FOLDER_CYCLES_ACCEPTED[pair]);
  if (unaccepted.length) failures.push(`new folder-level import cycles: ${unaccepted.join(', ')} (see docs/architecture.md, "Layers")`);
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    /* missing */
  }
  if (committed !== text) failures.push('docs/modules.md is stale: run `node scripts/module-graph.mjs` and commit it');
  if (failures.length) {
    for (const failure of failures) console.error(`module graph: ${failure}`);
    process.exit(1);
  }
  console.log(`module graph: ${folders.length} folders, ${pairs.length} accepted folder cycle pair(s), docs/modules.md up to date`);
} else {
  writeFileSync(target, text);
  console.log(`wrote docs/modules.md: ${folders.length} folders, ${pairs.length} folder cycle pair(s)`);
  for (const pair of pairs) console.log(`  ${pair}`);
}
