import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { freePort } from '../support/free-port';
import { currentPids, killEverything, Launcher, pidFromFile, startLauncher, waitUntilReady } from '../support/launcher';
import { eventually } from '../support/processes';

/**
 * Faults under `npm start` (the real launcher and its embedded PostgreSQL and redis-server), during a mixed load of
 * REST, tus and WebDAV uploads and downloads with the default ingest pipeline running: SIGKILL in turn the api, the
 * worker, redis-server and PostgreSQL, then SIGSTOP PostgreSQL for 20 s and SIGCONT it. After each, readiness returns
 * by itself. At the end: no answer was a 500 (503 while a dependency is down is the contract), every upload answered
 * 2xx has its row and its bytes, every job ended, none produced an output or its usage twice, and the ingest metered
 * equals the bytes of the files stored.
 */

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FINAL = ['succeeded', 'failed', 'cancelled', 'skipped'];
const MAX_OPERATIONS_PER_CLIENT = 400;

interface Stored {
  how: 'rest' | 'tus' | 'webdav';
  name: string;
  sha256: string;
  size: number;
  id?: string;
}

const launchers: Launcher[] = [];
const folders: string[] = [];

afterAll(() => {
  killEverything(launchers, folders);
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

describe('faults under npm start', () => {
  it('survives SIGKILL of the api, the worker, Redis and PostgreSQL and a SIGSTOPped PostgreSQL during a mixed load, losing nothing', async () => {
    const varDir = mkdtempSync(join(tmpdir(), 'mserve-faults-'));
    folders.push(varDir);
    const ports = { api: await freePort(), postgres: await freePort(), redis: await freePort() };
    const launcher = startLauncher(varDir, ports);
    launchers.push(launcher);
    await waitUntilReady(ports.api, launcher, 'the platform to be ready');
    const base = `http://127.0.0.1:${ports.api}`;
    const adminKey = readFileSync(join(varDir, 'admin.key'), 'utf8').trim();

    const json = async (method: string, path: string, key: string, body?: unknown) => {
      const response = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const container = await json('POST', '/containers', adminKey, { name: 'faults' });
    expect(container.status).toBe(201);
    const service = await json('POST', `/containers/${container.body.id as string}/services`, container.body.key as string, { name: 'faults' });
    expect(service.status).toBe(201);
    const serviceId = service.body.id as string;
    const customerKey = service.body.customerKey as string;
    const bearer = { authorization: `Bearer ${customerKey}` };
    const basic = { authorization: `Basic ${Buffer.from(`x:${customerKey}`).toString('base64')}` };

    // the load: every answer is recorded; a refused connection (a process restarting) is not an answer
    const stored: Stored[] = [];
    const answers = new Map<number, number>();
    const faults: string[] = [];
    let networkErrors = 0;
    let running = true;
    // a fault is kept with what the server said (its problem names the request id the api logged the error under)
    const answered = (what: string, status: number, body = '') => {
      answers.set(status, (answers.get(status) ?? 0) + 1);
      if (status >= 500 && status !== 503) faults.push(`${what}: ${status} ${body.slice(0, 400)}`);
    };
    const bodyOf = (response: Response) => (response.status >= 500 && response.status !== 503 ? response.text().catch(() => '') : Promise.resolve(''));
    const content = async (index: number, client: number): Promise<{ name: string; bytes: Uint8Array<ArrayBuffer> }> => {
      const name = `c${client}-${index}`;
      if (index % 3 === 0) {
        const png = await sharp({ create: { width: 48, height: 32, channels: 3, background: { r: (client * 60) % 256, g: (index * 7) % 256, b: 90 } } })
          .png()
          .toBuffer();
        return { name: `${name}.png`, bytes: new Uint8Array(png) };
      }
      return { name: `${name}.txt`, bytes: new Uint8Array(Buffer.from(`file ${name}\n`.repeat(1 + (index % 40)))) };
    };
    const operation = async (client: number, index: number) => {
      const { name, bytes } = await content(index, client);
      const how = (['rest', 'tus', 'webdav', 'download'] as const)[(client + index) % 4];
      if (how === 'download' && stored.some((file) => file.id)) {
        const file = stored.filter((candidate) => candidate.id)[index % stored.filter((candidate) => candidate.id).length];
        const response = await fetch(`${base}/api/v1/mfiles/${file.id}/content`, { headers: bearer });
        const body = new Uint8Array(await response.arrayBuffer());
        answered('download', response.status, Buffer.from(body).toString('utf8'));
        if (response.status === 200 && sha256(body) !== file.sha256) faults.push(`download of ${file.name}: other bytes`);
        return;
      }
      if (how === 'rest' || how === 'download') {
        const response = await fetch(`${base}/api/v1/services/${serviceId}/mfiles?name=${encodeURIComponent(name)}`, {
          method: 'POST',
          headers: bearer,
          body: bytes,
        });
        const text = await response.text();
        answered('rest upload', response.status, text);
        if (response.status === 201) stored.push({ how: 'rest', name, sha256: sha256(bytes), size: bytes.length, id: (JSON.parse(text) as { id: string }).id });
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
        answered('tus creation', created.status, await bodyOf(created));
        if (created.status !== 201) return;
        const location = new URL(created.headers.get('location')!, base).toString();
        const patched = await fetch(location, {
          method: 'PATCH',
          headers: { ...bearer, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
          body: bytes,
        });
        answered('tus patch', patched.status, await bodyOf(patched));
        if (patched.status === 204)
          stored.push({ how: 'tus', name, sha256: sha256(bytes), size: bytes.length, id: patched.headers.get('mfile-id') ?? undefined });
        return;
      }
      const put = await fetch(`${base}/dav/${encodeURIComponent(name)}`, { method: 'PUT', headers: basic, body: bytes });
      const said = await put.text();
      answered('webdav put', put.status, put.status >= 500 && put.status !== 503 ? said : '');
      if (put.status === 201) stored.push({ how: 'webdav', name, sha256: sha256(bytes), size: bytes.length });
    };
    const clients = [0, 1, 2, 3].map(async (client) => {
      for (let index = 0; running && index < MAX_OPERATIONS_PER_CLIENT; index += 1) {
        try {
          await operation(client, index);
        } catch {
          networkErrors += 1; // a connection refused or reset while a process restarts
          await sleep(200);
        }
        await sleep(25);
      }
    });

    // the faults, one at a time, each followed by readiness coming back by itself
    const restarts = (name: string) => launcher.output().split(`[launcher] ${name} restarted`).length - 1;
    await sleep(3000);
    for (const target of ['api', 'worker', 'redis', 'postgres'] as const) {
      const before = restarts(target);
      const pid =
        target === 'redis'
          ? pidFromFile(join(varDir, 'redis', 'redis-server.pid'))
          : target === 'postgres'
            ? pidFromFile(join(varDir, 'postgres', 'postmaster.pid'))
            : currentPids(launcher.output())[target];
      process.kill(pid, 'SIGKILL');
      await eventually(async () => restarts(target) > before, `${target} to be restarted by the launcher`, 180_000, 100);
      await waitUntilReady(ports.api, launcher, `readiness after ${target} was killed`);
      await sleep(2000);
    }
    // PostgreSQL frozen (its whole process group: postmaster and backends), then thawed
    const postmaster = pidFromFile(join(varDir, 'postgres', 'postmaster.pid'));
    process.kill(-postmaster, 'SIGSTOP');
    try {
      await sleep(20_000);
    } finally {
      process.kill(-postmaster, 'SIGCONT');
    }
    await waitUntilReady(ports.api, launcher, 'readiness after PostgreSQL was thawed');
    await sleep(2000);
    running = false;
    await Promise.all(clients);

    process.stdout.write(
      `faults: ${stored.length} uploads stored (${['rest', 'tus', 'webdav'].map((how) => `${how} ${stored.filter((file) => file.how === how).length}`).join(', ')}); ` +
        `answers ${JSON.stringify(Object.fromEntries(answers))}; ${networkErrors} connection errors\n`,
    );
    // with each fault, what the api logged about it (the lines naming its request id, or the errors around)
    const logged = launcher.output().split('\n');
    const explained = faults.map((fault) => {
      const requestId = /request id ([\w-]+)/.exec(fault)?.[1];
      const lines = requestId ? logged.filter((line) => line.includes(requestId)) : [];
      return `${fault}\n${lines.join('\n').slice(0, 3000)}`;
    });
    expect(explained).toEqual([]);
    expect(stored.length).toBeGreaterThan(20);
    expect(stored.filter((file) => file.how === 'webdav').length).toBeGreaterThan(0);
    expect(stored.filter((file) => file.how === 'tus').length).toBeGreaterThan(0);
    for (const name of ['api', 'worker', 'redis', 'postgres']) expect(restarts(name)).toBeGreaterThanOrEqual(1);

    const password = readFileSync(join(varDir, 'secrets', 'postgres.password'), 'utf8').trim();
    const db = new pg.Client({ connectionString: `postgres://mserve:${encodeURIComponent(password)}@127.0.0.1:${ports.postgres}/mserve` });
    await db.connect();
    try {
      // every upload answered 2xx has its row, with the bytes that were sent
      const rows = (await db.query('SELECT id, name, sha256, size FROM mfile WHERE service_id = $1', [serviceId])).rows as Array<{
        id: string;
        name: string;
        sha256: string;
        size: string;
      }>;
      const byName = new Map(rows.map((row) => [row.name, row]));
      for (const file of stored) {
        const row = byName.get(file.name);
        expect({ name: file.name, sha256: row?.sha256 }).toEqual({ name: file.name, sha256: file.sha256 });
        if (file.id) expect(row!.id).toBe(file.id);
      }
      // and its bytes can be read back
      for (const file of stored.filter((_, index) => index % 3 === 0)) {
        const response = await fetch(`${base}/api/v1/mfiles/${byName.get(file.name)!.id}/content`, { headers: bearer });
        expect({ name: file.name, status: response.status, sha256: sha256(new Uint8Array(await response.arrayBuffer())) }).toEqual({
          name: file.name,
          status: 200,
          sha256: file.sha256,
        });
      }
      // every job ends, exactly once: no job left unfinished, no output or job usage recorded twice
      await eventually(
        async () => {
          const left = await db.query('SELECT count(*)::int AS n FROM job WHERE service_id = $1 AND NOT (state = ANY($2))', [serviceId, FINAL]);
          return left.rows[0].n === 0;
        },
        'every job to end',
        300_000,
        500,
      );
      const jobs = (await db.query('SELECT count(*)::int AS n FROM job WHERE service_id = $1', [serviceId])).rows[0].n as number;
      expect(jobs).toBeGreaterThanOrEqual(rows.length);
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
      // usage adds up: the ingest metered is the bytes of the files stored (an upload cut short stores and meters nothing)
      const ingest = (await db.query("SELECT coalesce(sum(value), 0)::bigint AS n FROM usage WHERE service_id = $1 AND metric = 'ingest'", [serviceId])).rows[0]
        .n;
      expect(Number(ingest)).toBe(rows.reduce((sum, row) => sum + Number(row.size), 0));
    } finally {
      await db.end();
    }
  }, 1_200_000);
});
