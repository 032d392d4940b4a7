import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import * as tus from 'tus-js-client';
import { readEvents } from '../../src/cli/sse';
import { runTool } from '../support/dav';
import { makeNetwork, Network } from '../support/netns';
import { eventually, ROOT } from '../support/processes';

/**
 * Several machines that share nothing but the engines (issue 18), each a network namespace on a private subnet:
 *   a  PostgreSQL and Redis (`npm start` with LAUNCH=engines, listening on a's address) and an S3 server (s3rver)
 *   b, c  one api each (`npm start` with LAUNCH=api), STORAGE=s3
 *   d  nginx, spreading requests over b and c
 *   e  a worker (normal and priority queues); f  a worker that also serves `hardware.gpu`
 * b, c, e and f each see an empty tmpfs of their own as STORAGE_DIR and VAR_DIR (a private mount namespace): no two
 * machines share a file. A mixed load goes through nginx (REST, tus-js-client in 5 MiB chunks, WebDAV PUTs and
 * rclone, downloads, a read-only share link, hardware jobs followed over SSE); mid-way b and e lose power (every
 * process of the machine SIGKILLed). Then: every upload answered 2xx has its row and its bytes (read back through
 * c, so from S3), every job ended exactly once without a duplicate output, hardware jobs ran only on f, every SSE
 * follower saw its job's final state, and the ingest metered equals the bytes of the files stored.
 */

const MiB = 1024 * 1024;
const FINAL = ['succeeded', 'failed', 'cancelled', 'skipped'];
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const listening = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, host, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

interface Stored {
  how: 'rest' | 'tus' | 'tus-big' | 'webdav' | 'rclone';
  name: string;
  sha256: string;
  size: number;
}

let network: Network | undefined;
let root: string | undefined;

afterAll(() => {
  network?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function nginxConfig(dir: string, listen: string, upstreams: string[]): string {
  return `worker_processes 1;
user root;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream mserve_api {
${upstreams.map((address) => `    server ${address} max_fails=1 fail_timeout=5s;`).join('\n')}
    keepalive 16;
  }
  server {
    listen ${listen};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_connect_timeout 2s;
    proxy_read_timeout 3600s;
    proxy_send_timeout 3600s;
    proxy_redirect off;
    location / { proxy_pass http://mserve_api; }
  }
}
`;
}

describe('several machines sharing only the engines (network namespaces)', () => {
  it('keeps every answered upload and ends every job once when an api machine and a worker machine lose power mid-load', async () => {
    network = makeNetwork(['a', 'b', 'c', 'd', 'e', 'f']);
    const { a, b, c, d, e, f } = network.machines;
    root = mkdtempSync(join(tmpdir(), 'mserve-multinode-'));
    const machineDir = join(root, 'machine'); // each of b, c, e, f sees its own empty tmpfs here
    mkdirSync(machineDir);
    mkdirSync(join(root, 's3'));
    mkdirSync(join(root, 'nginx'));
    const launcher = join(ROOT, 'dist', 'src', 'launcher.js');
    // nothing of the suite's own engines, identity or folders leaks in; the reconciler is on (worker e dies)
    const clean = {
      DATABASE_URL: undefined,
      REDIS_URL: undefined,
      STORAGE_DIR: undefined,
      BACKUP_DIR: undefined,
      PUBLIC_URL: undefined,
      SESSION_SECRET: undefined,
      QUEUE_PREFIX: undefined,
      JOB_RECONCILER: 'true',
      // b may die between a commit and its dispatch: the survivors look for such jobs every 5 s (default 5 min)
      JOB_RECONCILE_INTERVAL_MS: '5000',
      LOG_LEVEL: 'warn',
    };

    // a: the engines
    const engines = a.run(process.execPath, [launcher], { env: { ...clean, LAUNCH: 'engines', EMBEDDED_HOST: a.address, VAR_DIR: join(root, 'a') } });
    const s3rver = a.run(process.execPath, [
      join(ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js'),
      '-d',
      join(root, 's3'),
      '-a',
      a.address,
      '-p',
      '9000',
      '-s',
    ]);
    await eventually(async () => engines.output().includes('[launcher] running:') || engines.exitCode !== null, 'the engines on a', 120_000, 200);
    expect(engines.exitCode).toBeNull();
    await eventually(() => listening(a.address, 9000), `s3rver on a (${s3rver.output()})`, 30_000, 100);
    const secret = (name: string) => encodeURIComponent(readFileSync(join(root!, 'a', 'secrets', `${name}.password`), 'utf8').trim());
    const databaseUrl = `postgres://mserve:${secret('postgres')}@${a.address}:25432/mserve`;
    const redisUrl = `redis://:${secret('redis')}@${a.address}:25379`;
    const node = {
      ...clean,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      STORAGE: 's3',
      S3_ENDPOINT: `http://${a.address}:9000`,
      S3_BUCKET: 'mserve',
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
      S3_CREATE_BUCKET: 'true',
      STORAGE_DIR: join(machineDir, 'storage'),
      BACKUP_DIR: join(machineDir, 'backup'),
      VAR_DIR: join(machineDir, 'var'),
    };

    // b, c: the apis; e, f: the workers (f alone serves hardware.gpu); d: nginx in front of b and c
    const apis = [b, c].map((machine) =>
      machine.run(process.execPath, [launcher], { env: { ...node, LAUNCH: 'api', HOST: '0.0.0.0', PORT: '3000' }, privateDir: machineDir }),
    );
    const workerQueues = { e: 'normal:2,priority:1', f: 'normal:2,priority:1,hardware.gpu:1' };
    const workers = [e, f].map((machine) =>
      machine.run(process.execPath, [launcher], {
        env: { ...node, LAUNCH: 'worker', WORKER_PROCESSES: '1', WORKER_QUEUES: workerQueues[machine.name as 'e' | 'f'] },
        privateDir: machineDir,
      }),
    );
    for (const [index, machine] of [b, c].entries())
      await eventually(
        async () => apis[index].exitCode !== null || (await fetch(`http://${machine.address}:3000/health/ready`)).ok,
        `the api on ${machine.name}`,
        120_000,
        200,
      );
    for (const api of apis) expect({ exit: api.exitCode, output: api.exitCode === null ? '' : api.output() }).toEqual({ exit: null, output: '' });
    writeFileSync(join(root, 'nginx', 'nginx.conf'), nginxConfig(join(root, 'nginx'), `${d.address}:8080`, [`${b.address}:3000`, `${c.address}:3000`]));
    const nginx = d.run('nginx', ['-p', join(root, 'nginx'), '-c', join(root, 'nginx', 'nginx.conf'), '-g', 'daemon off;']);
    const base = `http://${d.address}:8080`;
    await eventually(async () => (await fetch(`${base}/health/ready`)).ok, `nginx on d (${nginx.output()})`, 30_000, 100);
    await eventually(
      async () => workers.every((worker) => worker.output().includes('[launcher] running:')),
      `the workers on e and f (${workers.map((w) => w.output()).join(' | ')})`,
      120_000,
      200,
    );

    const api = async (method: string, path: string, key: string, body?: unknown) => {
      const response = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, any> };
    };
    const adminKey = process.env.ADMIN_KEY!;
    const container = await api('POST', '/containers', adminKey, { name: 'multi-node' });
    expect(container.status).toBe(201);
    const service = await api('POST', `/containers/${container.body.id}/services`, container.body.key, { name: 'multi-node' });
    expect(service.status).toBe(201);
    const serviceId = service.body.id as string;
    const customerKey = service.body.customerKey as string;
    const bearer = { authorization: `Bearer ${customerKey}` };
    const basic = { authorization: `Basic ${Buffer.from(`x:${customerKey}`).toString('base64')}` };

    // the load; every answer counted. nginx answers 502 for a request b was serving when it died: allowed only then
    const stored: Stored[] = [];
    const ids = new Map<string, string>(); // name -> Mfile id, for uploads that said it
    const answers = new Map<number, number>();
    const faults: string[] = [];
    let crashedAt = 0;
    let networkErrors = 0;
    let running = true;
    const answered = (what: string, status: number, body = '') => {
      answers.set(status, (answers.get(status) ?? 0) + 1);
      const aroundCrash = crashedAt > 0 && Date.now() - crashedAt < 15_000 && status === 502;
      if (status >= 500 && status !== 503 && !aroundCrash) faults.push(`${what}: ${status} ${body.slice(0, 300)}`);
    };
    const hardwareJobs: string[] = [];
    const seenFinal = new Map<string, string>();
    const follow = async (jobId: string) => {
      // as EventSource does: reconnect until a final state is seen (through nginx, to whichever api is alive)
      for (let attempt = 0; attempt < 200 && !seenFinal.has(jobId); attempt++) {
        try {
          const response = await fetch(`${base}/api/v1/jobs/${jobId}/events`, { headers: bearer });
          if (response.status !== 200) {
            answered('job events', response.status, await response.text());
            await sleep(500);
            continue;
          }
          for await (const event of readEvents(response)) {
            if (event.event !== 'state') continue;
            const state = (JSON.parse(event.data) as { state: string }).state;
            if (FINAL.includes(state)) seenFinal.set(jobId, state);
          }
        } catch {
          await sleep(500); // the stream was cut (its api died): reconnect
        }
      }
    };
    const followers: Array<Promise<void>> = [];

    const operation = async (client: number, index: number) => {
      const name = `c${client}-${index}.txt`;
      const bytes = new Uint8Array(Buffer.from(`file ${name} on several machines\n`.repeat(1 + ((client * 31 + index) % 200))));
      const how = (['rest', 'tus', 'webdav', 'download', 'share', 'hardware'] as const)[(client + index) % 6];
      const known = [...ids.entries()];
      if ((how === 'download' || how === 'share' || how === 'hardware') && known.length > 0) {
        const [fileName, id] = known[index % known.length];
        const file = stored.find((candidate) => candidate.name === fileName)!;
        if (how === 'hardware') {
          const job = await api('POST', '/jobs', customerKey, { mfileIds: [id], task: 'sha256', queue: 'hardware.gpu' });
          answered('hardware job', job.status, JSON.stringify(job.body));
          if (job.status === 201) {
            hardwareJobs.push(job.body.id);
            followers.push(follow(job.body.id));
          }
          return;
        }
        let key = customerKey;
        if (how === 'share') {
          // a read-only link made by the service's key for one file
          const derived = await api('POST', '/keys', customerKey, { roles: ['mfilereadonly'], resource: { type: 'mfile', id } });
          answered('share key', derived.status, JSON.stringify(derived.body));
          if (derived.status !== 201) return;
          key = derived.body.key;
        }
        const response = await fetch(`${base}/api/v1/mfiles/${id}/content`, { headers: { authorization: `Bearer ${key}` } });
        const body = new Uint8Array(await response.arrayBuffer());
        answered(how, response.status, Buffer.from(body).toString());
        if (response.status === 200 && sha256(body) !== file.sha256) faults.push(`${how} of ${fileName}: other bytes`);
        return;
      }
      if (how === 'tus') {
        const created = await fetch(`${base}/api/v1/services/${serviceId}/uploads`, {
          method: 'POST',
          headers: {
            ...bearer,
            'tus-resumable': '1.0.0',
            'upload-length': String(bytes.length),
            'upload-metadata': `filename ${Buffer.from(name).toString('base64')}`,
          },
        });
        answered('tus creation', created.status, created.status >= 500 ? await created.text() : '');
        if (created.status !== 201) return;
        const patched = await fetch(new URL(created.headers.get('location')!, base), {
          method: 'PATCH',
          headers: { ...bearer, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
          body: bytes,
        });
        answered('tus patch', patched.status, patched.status >= 500 ? await patched.text() : '');
        if (patched.status === 204) {
          stored.push({ how: 'tus', name, sha256: sha256(bytes), size: bytes.length });
          ids.set(name, patched.headers.get('mfile-id')!);
        }
        return;
      }
      if (how === 'webdav') {
        const put = await fetch(`${base}/dav/${encodeURIComponent(name)}`, { method: 'PUT', headers: basic, body: bytes });
        answered('webdav put', put.status, await put.text());
        if (put.status === 201) stored.push({ how: 'webdav', name, sha256: sha256(bytes), size: bytes.length });
        return;
      }
      const response = await fetch(`${base}/api/v1/services/${serviceId}/mfiles?name=${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: bearer,
        body: bytes,
      });
      const text = await response.text();
      answered('rest upload', response.status, text);
      if (response.status === 201) {
        stored.push({ how: 'rest', name, sha256: sha256(bytes), size: bytes.length });
        ids.set(name, (JSON.parse(text) as { id: string }).id);
      }
    };
    const clients = [0, 1, 2].map(async (client) => {
      for (let index = 0; running; index += 1) {
        try {
          await operation(client, index);
        } catch {
          networkErrors += 1; // a connection cut when b died
          await sleep(200);
        }
        await sleep(20);
      }
    });

    // large files with tus-js-client in 5 MiB chunks, one after the other: the one under way when b dies goes on at c
    const bigUploads = (async () => {
      for (let index = 0; running || index < 2; index++) {
        const bytes = new Uint8Array(23 * MiB + index * 7919);
        for (let offset = 0; offset < bytes.length; offset += 4096) bytes[offset] = (offset / 4096 + index) % 251;
        const name = `big-${index}.bin`;
        const path = join(root!, name);
        writeFileSync(path, bytes);
        await new Promise<void>((resolve, reject) => {
          const upload = new tus.Upload(createReadStream(path), {
            endpoint: `${base}/api/v1/services/${serviceId}/uploads`,
            chunkSize: 5 * MiB,
            uploadSize: bytes.length,
            retryDelays: [200, 500, 1000, 2000, 3000, 5000, 5000],
            metadata: { filename: name, filetype: 'application/octet-stream' },
            headers: bearer,
            onAfterResponse: (_request, response) => {
              const id = response.getHeader('Mfile-Id');
              if (id) ids.set(name, id);
            },
            onError: reject,
            onSuccess: () => resolve(),
          });
          upload.start();
        });
        stored.push({ how: 'tus-big', name, sha256: sha256(bytes), size: bytes.length });
      }
    })();

    // rclone copies a folder through nginx while the machines fail
    const tree = join(root, 'tree');
    mkdirSync(tree);
    for (let index = 0; index < 40; index++) writeFileSync(join(tree, `r${index}.txt`), `rclone file ${index}\n`.repeat(1 + index * 13));
    const rcloneConfig = join(root, 'rclone.conf');
    writeFileSync(rcloneConfig, '');
    const obscured = (await runTool('rclone', ['--config', rcloneConfig, 'obscure', customerKey])).stdout.trim();
    const remote = ['--config', rcloneConfig, '--webdav-url', `${base}/dav/`, '--webdav-user', 'x', '--webdav-pass', obscured, '--webdav-vendor', 'other'];
    const rcloneCopy = (async () => {
      await sleep(3000);
      return runTool('rclone', [
        'copy',
        tree,
        ':webdav:rclone',
        ...remote,
        '--transfers',
        '2',
        '--retries',
        '5',
        '--low-level-retries',
        '5',
        '--bwlimit',
        '40k',
      ]);
    })();

    await sleep(7000);
    crashedAt = Date.now();
    b.crash();
    e.crash();
    await eventually(async () => b.pids().length === 0 && e.pids().length === 0, 'b and e to be gone', 10_000, 50);
    await sleep(12_000);
    running = false;
    await Promise.all(clients);
    await bigUploads;
    const copied = await rcloneCopy;
    expect({ code: copied.code, stderr: copied.code === 0 ? '' : copied.stderr.slice(-2000) }).toEqual({ code: 0, stderr: '' });
    const check = await runTool('rclone', ['check', tree, ':webdav:rclone', '--download', ...remote]);
    expect({ code: check.code, stderr: check.code === 0 ? '' : check.stderr.slice(-2000) }).toEqual({ code: 0, stderr: '' });
    for (let index = 0; index < 40; index++) {
      const bytes = readFileSync(join(tree, `r${index}.txt`));
      stored.push({ how: 'rclone', name: `r${index}.txt`, sha256: sha256(bytes), size: bytes.length });
    }
    await Promise.all(followers);

    process.stdout.write(
      `multi-node: ${stored.length} uploads stored (${['rest', 'tus', 'tus-big', 'webdav', 'rclone'].map((how) => `${how} ${stored.filter((file) => file.how === how).length}`).join(', ')}); ` +
        `${hardwareJobs.length} hardware jobs; answers ${JSON.stringify(Object.fromEntries(answers))}; ${networkErrors} connection errors\n`,
    );
    expect(faults).toEqual([]);
    expect(stored.filter((file) => file.how === 'tus-big').length).toBeGreaterThanOrEqual(2);
    expect(hardwareJobs.length).toBeGreaterThan(0);
    // what the surviving api machine saw: it never stopped
    expect(apis[1].exitCode).toBeNull();

    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const rows = (await db.query('SELECT id, name, sha256, size FROM mfile WHERE service_id = $1', [serviceId])).rows as Array<{
        id: string;
        name: string;
        sha256: string;
        size: string;
      }>;
      const byName = new Map(rows.map((row) => [row.name, row]));
      for (const file of stored) expect({ name: file.name, sha256: byName.get(file.name)?.sha256 }).toEqual({ name: file.name, sha256: file.sha256 });
      // the bytes are in S3: read back through nginx, now only c answers (its disk never had them)
      for (const file of stored.filter((candidate, index) => candidate.how === 'tus-big' || index % 5 === 0)) {
        const response = await fetch(`${base}/api/v1/mfiles/${byName.get(file.name)!.id}/content`, { headers: bearer });
        expect({ name: file.name, status: response.status, sha256: sha256(new Uint8Array(await response.arrayBuffer())) }).toEqual({
          name: file.name,
          status: 200,
          sha256: file.sha256,
        });
      }
      // every job ends, once
      const unfinished = async () =>
        (
          await db.query(
            'SELECT task, state, queue, worker_host AS "workerHost", attempts, trigger FROM job WHERE service_id = $1 AND NOT (state = ANY($2)) ORDER BY created_at LIMIT 20',
            [serviceId, FINAL],
          )
        ).rows;
      await eventually(async () => (await unfinished()).length === 0, 'every job to end', 300_000, 500).catch(async (error: Error) => {
        throw new Error(`${error.message}; still unfinished: ${JSON.stringify(await unfinished())}`);
      });
      const failed = await db.query("SELECT task, error FROM job WHERE service_id = $1 AND state = 'failed'", [serviceId]);
      expect(failed.rows).toEqual([]);
      const duplicateOutputs = await db.query(
        'SELECT job_id, name, count(*)::int AS n FROM job_output WHERE service_id = $1 GROUP BY 1, 2 HAVING count(*) > 1',
        [serviceId],
      );
      expect(duplicateOutputs.rows).toEqual([]);
      const duplicateJobFacts = await db.query(
        "SELECT resource_id, count(*)::int AS n FROM usage WHERE service_id = $1 AND metric LIKE 'task/%' GROUP BY 1 HAVING count(*) > 1",
        [serviceId],
      );
      expect(duplicateJobFacts.rows).toEqual([]);
      // hardware jobs ran on f only (a worker names its machine's hostname)
      const hardware = await db.query("SELECT DISTINCT split_part(worker_host, ':', 1) AS host FROM job WHERE service_id = $1 AND queue = 'hardware.gpu'", [
        serviceId,
      ]);
      expect(hardware.rows).toEqual([{ host: 'node-f' }]);
      // each SSE follower saw its job end as the database says it did
      const states = await db.query('SELECT id, state FROM job WHERE id = ANY($1)', [hardwareJobs]);
      expect(Object.fromEntries(seenFinal)).toEqual(Object.fromEntries(states.rows.map((row: { id: string; state: string }) => [row.id, row.state])));
      // usage adds up: the ingest metered is the bytes of the files stored
      const ingest = (await db.query("SELECT coalesce(sum(value), 0)::bigint AS n FROM usage WHERE service_id = $1 AND metric = 'ingest'", [serviceId])).rows[0]
        .n;
      expect(Number(ingest)).toBe(rows.reduce((sum, row) => sum + Number(row.size), 0));
    } finally {
      await db.end();
    }
  }, 900_000);
});
