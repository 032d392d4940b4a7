// EXPLAIN (ANALYZE, BUFFERS) of the heaviest statements of a small-file ingest, on a database that has run one
// (e.g. while ingest-small.mjs waits for its jobs: DATABASE_URL from its var/secrets/postgres.password). Every
// statement runs inside a transaction that is rolled back: nothing changes. The statements are copies of those in
// src/ at fe8b27a (JobRepository.claim and createRun, UsageRepository.limitsOf, the prerequisites count and
// releaseDependents): when src/ changes them, change them here.
//
//   DATABASE_URL=postgres://mserve:…@127.0.0.1:<port>/mserve node test/bench/explain-ingest.mjs
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

const require = createRequire(join(ROOT, 'package.json'));
const pg = require('pg');
if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is needed');
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();

const explain = async (title, sql, params) => {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) ${sql}`, params);
    process.stdout.write(`== ${title}\n${rows.map((r) => r['QUERY PLAN']).join('\n')}\n\n`);
  } finally {
    await client.query('ROLLBACK');
  }
};

// a finished job of a text file that has dependents (mime), and its file
const { rows: picked } = await client.query(
  `SELECT j.id, j.service_id, j.container_id, i.mfile_id FROM job j JOIN job_input i ON i.job_id = j.id
    WHERE j.step = 'mime' AND j.state = 'succeeded' ORDER BY j.id DESC LIMIT 1`,
);
if (!picked.length) throw new Error('no finished mime job in this database: run an ingest first');
const job = picked[0];

await explain(
  'JobRepository.claim (a succeeded job made claimable inside the rolled-back transaction)',
  `WITH claimed AS (
     UPDATE job SET state = 'running', started_at = now(), attempts = attempts + 1, worker_host = $2, updated_at = now()
      WHERE id = $1 AND state IN ('succeeded', 'queued', 'running')
      RETURNING id, task, options, queue, step, condition, service_id, container_id, requested_by_key_id)
   SELECT c.id, c.task, c.options, c.queue, c.step, c.condition, c.service_id, c.container_id, c.requested_by_key_id,
          COALESCE((SELECT json_agg(json_build_object(
              'id', m.id, 'containerId', m.container_id, 'serviceId', m.service_id, 'folderId', m.folder_id, 'name', m.name,
              'size', m.size, 'md5', m.md5, 'sha256', m.sha256, 'mimetype', m.mimetype, 'blobKey', m.blob_key, 'metadata', m.metadata,
              'createdAt', m.created_at, 'updatedAt', m.updated_at, 'contentUpdatedAt', m.content_updated_at) ORDER BY m.id)
            FROM job_input i JOIN mfile m ON m.id = i.mfile_id WHERE i.job_id = c.id), '[]'::json) AS inputs,
          EXISTS (SELECT 1 FROM job_dependency d WHERE d.prerequisite_id = c.id) AS "hasDependents"
     FROM claimed c`,
  [job.id, 'explain'],
);

// createRun: the default profile's 9 steps for the same file
const steps = [
  ['mime', 'mime', []],
  ['md5', 'md5', ['mime']],
  ['image-metadata', 'image-metadata', ['mime']],
  ['thumbnail', 'thumbnail', ['mime']],
  ['poster', 'poster', ['mime']],
  ['video-metadata', 'video-metadata', ['mime']],
  ['video-poster', 'video-poster', ['video-metadata']],
  ['video-proxy', 'video-proxy', ['video-metadata']],
  ['backup', 'backup', ['md5']],
];
const ids = new Map(steps.map(([name]) => [name, randomUUID()]));
const runId = randomUUID();
const values = [];
const param = (value) => `$${values.push(value)}`;
const jobRows = steps.map(
  ([name, task, after]) =>
    `(${[ids.get(name), job.container_id, job.service_id, task, '{}', 'normal', after.length ? 'waiting' : 'queued', 'ingest', runId, name, null].map(param).join(', ')})`,
);
const inputRows = steps.map(([name]) => `(${param(ids.get(name))}::uuid, ${param(job.mfile_id)}::uuid)`);
const edgeRows = steps.flatMap(([name, , after]) => after.map((p) => `(${param(ids.get(name))}::uuid, ${param(ids.get(p))}::uuid)`));
await explain(
  'JobRepository.createRun (9 jobs, 9 inputs, 8 edges; the foreign-key triggers show as "Trigger" lines)',
  `WITH made AS (
     INSERT INTO job (id, container_id, service_id, task, options, queue, state, trigger, run_id, step, condition) VALUES ${jobRows.join(', ')} RETURNING id),
   inputs AS (INSERT INTO job_input (job_id, mfile_id) SELECT v.job_id, v.mfile_id FROM (VALUES ${inputRows.join(', ')}) AS v(job_id, mfile_id) JOIN made ON made.id = v.job_id),
   edges AS (INSERT INTO job_dependency (job_id, prerequisite_id) SELECT v.job_id, v.prerequisite_id FROM (VALUES ${edgeRows.join(', ')}) AS v(job_id, prerequisite_id) WHERE (SELECT count(*) FROM made) > 0)
   SELECT count(*)::int AS n FROM made`,
  values,
);

await explain(
  'UsageRepository.limitsOf(lock = true) (every upload, before anything else in its transaction)',
  `SELECT s.container_id, s.suspended, c.suspended AS container_suspended, s.starts_at, s.ends_at,
          s.disk_quota::float8 AS s_disc, s.ingest_quota::float8 AS s_ingest, s.jobruntime_quota AS s_jobruntime,
          c.disk_quota::float8 AS c_disc, c.ingest_quota::float8 AS c_ingest, c.jobruntime_quota AS c_jobruntime
     FROM service s JOIN container c ON c.id = s.container_id WHERE s.id = $1 FOR NO KEY UPDATE OF s`,
  [job.service_id],
);

const { rows: dependent } = await client.query(`SELECT job_id FROM job_dependency WHERE prerequisite_id = $1 LIMIT 1`, [job.id]);
if (dependent.length)
  await explain(
    'are all prerequisites of a dependent done? (per released job)',
    `SELECT count(*)::int AS open FROM job_dependency d JOIN job p ON p.id = d.prerequisite_id
      WHERE d.job_id = $1 AND p.state NOT IN ('succeeded', 'skipped')`,
    [dependent[0].job_id],
  );
await explain(
  'releaseDependents: the waiting dependents, locked',
  `SELECT j.id, j.queue, j.service_id AS "serviceId" FROM job_dependency d JOIN job j ON j.id = d.job_id
    WHERE d.prerequisite_id = $1 AND j.state = 'waiting' ORDER BY j.id FOR UPDATE OF j`,
  [job.id],
);
const { rows: sizes } = await client.query(
  `SELECT relname, n_live_tup::int AS rows, pg_size_pretty(pg_total_relation_size(relid)) AS size,
          (SELECT count(*) FROM pg_index x WHERE x.indrelid = relid)::int AS indexes
     FROM pg_stat_user_tables WHERE relname IN ('job', 'job_input', 'job_dependency', 'mfile', 'key', 'usage') ORDER BY relname`,
);
process.stdout.write(`== tables\n${sizes.map((r) => `${r.relname}: ${r.rows} rows, ${r.size}, ${r.indexes} indexes`).join('\n')}\n`);
await client.end();
