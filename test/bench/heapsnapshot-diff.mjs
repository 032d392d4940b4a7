// Compares two V8 heap snapshots (.heapsnapshot, e.g. from BENCH_HEAP_SIGNAL + HEAP_SNAPSHOTS=1 in ingest-small.mjs):
// objects and self size by constructor (type + name) in each, the growth, the largest growths first; and, for the
// constructors that grew most, who holds them (the retainers' constructors and edge names, counted in the second
// snapshot).
//
//   node --max-old-space-size=4096 test/bench/heapsnapshot-diff.mjs before.heapsnapshot after.heapsnapshot   # TOP=30
import { readFileSync } from 'node:fs';

const TOP = Number(process.env.TOP ?? 30);
const [beforeFile, afterFile] = process.argv.slice(2);
if (!afterFile) {
  process.stderr.write('usage: node test/bench/heapsnapshot-diff.mjs <before.heapsnapshot> <after.heapsnapshot>\n');
  process.exit(2);
}

function load(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const nodeFields = meta.node_fields;
  const edgeFields = meta.edge_fields;
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const N = nodeFields.length;
  const E = edgeFields.length;
  const f = Object.fromEntries(nodeFields.map((name, i) => [name, i]));
  const g = Object.fromEntries(edgeFields.map((name, i) => [name, i]));
  const { nodes, edges, strings } = snapshot;
  const count = nodes.length / N;
  const label = (i) => {
    const type = nodeTypes[nodes[i * N + f.type]];
    const name = strings[nodes[i * N + f.name]];
    if (type === 'object' || type === 'closure' || type === 'native') return `${type}:${name}`;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return 'string';
    return `(${type})${type === 'code' || type === 'hidden' ? '' : ' ' + name.slice(0, 40)}`;
  };
  const byLabel = new Map();
  const labels = new Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const l = label(i);
    labels[i] = l;
    const size = nodes[i * N + f.self_size];
    total += size;
    const entry = byLabel.get(l) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += size;
    byLabel.set(l, entry);
  }
  return { snapshot, nodes, edges, strings, N, E, f, g, edgeTypes, count, labels, byLabel, total };
}

/** For nodes with a label in `wanted`: their retainers' label + edge name, counted. */
function retainers(heap, wanted) {
  const { nodes, edges, strings, N, E, f, g, edgeTypes, count, labels } = heap;
  const result = new Map([...wanted].map((w) => [w, new Map()]));
  let edgeIndex = 0;
  for (let i = 0; i < count; i++) {
    const edgeCount = nodes[i * N + f.edge_count];
    for (let e = 0; e < edgeCount; e++, edgeIndex += E) {
      const to = edges[edgeIndex + g.to_node] / N;
      const target = labels[to];
      if (!result.has(target)) continue;
      const type = edgeTypes[edges[edgeIndex + g.type]];
      if (type === 'weak') continue;
      const nameOrIndex = edges[edgeIndex + g.name_or_index];
      const edgeName = type === 'element' || type === 'hidden' ? `[${type}]` : String(strings[nameOrIndex]).slice(0, 40);
      const key = `${labels[i]} .${edgeName}`;
      const map = result.get(target);
      map.set(key, (map.get(key) ?? 0) + 1);
    }
  }
  return result;
}

const before = load(beforeFile);
const after = load(afterFile);
const mb = (bytes) => (bytes / 1e6).toFixed(2);
const out = [];
out.push(
  `before: ${before.count} objects, ${mb(before.total)} MB self size; after: ${after.count} objects, ${mb(after.total)} MB (${mb(after.total - before.total)} MB more)`,
);
const growth = [];
for (const [label, a] of after.byLabel) {
  const b = before.byLabel.get(label) ?? { count: 0, size: 0 };
  growth.push({ label, count: a.count - b.count, size: a.size - b.size, after: a });
}
growth.sort((x, y) => y.size - x.size);
out.push(`-- top ${TOP} growths by self size (constructor or type: +objects, +MB; after: objects, MB)`);
for (const row of growth.slice(0, TOP))
  out.push(
    `${('+' + mb(row.size)).padStart(9)} MB ${('+' + row.count).padStart(9)} objects  ${row.label}  (after: ${row.after.count}, ${mb(row.after.size)} MB)`,
  );
const wanted = new Set(
  growth
    .filter((row) => row.count > 500)
    .slice(0, 8)
    .map((row) => row.label),
);
const held = retainers(after, wanted);
out.push('-- who holds the largest growths (in the second snapshot: retainer constructor .edge, count)');
for (const [label, map] of held) {
  out.push(`${label}:`);
  for (const [key, n] of [...map.entries()].sort((x, y) => y[1] - x[1]).slice(0, 6)) out.push(`   ${String(n).padStart(8)}  ${key}`);
}
process.stdout.write(out.join('\n') + '\n');
