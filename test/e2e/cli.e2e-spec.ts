import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appWithWorker } from '../support/app-with-worker';
import { makeTenant } from '../support/client';
import { freePort } from '../support/free-port';
import { eventually, ROOT } from '../support/processes';

const MiB = 1024 * 1024;
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/**
 * The `mserve` command-line client as people run it: a child process with its own home folder, against the real api,
 * worker, PostgreSQL and Redis. A folder of 50 files is uploaded, interrupted with Ctrl-C, and uploaded again: the
 * second run resumes the files that were under way and skips those that are there; then the jobs are watched to
 * their end, a read-only key is derived and revoked, files are listed, downloaded and their usage reported.
 */
describe('mserve CLI (real api and worker; the CLI as a child process)', () => {
  const env = appWithWorker('mserve-cli-');
  let home: string;
  let tree: string;
  let tenant: Awaited<ReturnType<typeof makeTenant>>;
  const local = new Map<string, { sha256: string; size: number }>();

  interface Ran {
    code: number | null;
    stdout: string;
    stderr: string;
  }

  /** Starts the CLI (MSERVE_URL and MSERVE_KEY the customer's, unless given: '' leaves them to the login); `run` waits for its end. */
  const start = (args: string[], options: { input?: string; key?: string; url?: string } = {}) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        CI: 'true',
        MSERVE_HOME: home,
        MSERVE_URL: options.url ?? env.app.baseUrl,
        MSERVE_KEY: options.key ?? tenant.customerKey,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(options.input ?? '');
    const done = new Promise<Ran>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
    return { child, done, stdout: () => stdout };
  };
  const run = (args: string[], options?: { input?: string; key?: string; url?: string }) => start(args, options).done;

  beforeAll(async () => {
    tenant = await makeTenant(env.admin);
    home = join(env.work, 'home');
    tree = join(env.work, 'photos');
    // 50 files: two large ones first (sorted by name), 48 small ones, 12 of them in a subfolder
    mkdirSync(join(tree, 'day two'), { recursive: true });
    const add = (path: string, bytes: Buffer) => {
      writeFileSync(join(tree, path), bytes);
      local.set(`photos/${path}`, { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
    };
    add('0-large-a.bin', randomBytes(64 * MiB));
    add('0-large-b.bin', randomBytes(64 * MiB));
    for (let i = 0; i < 36; i++) add(`note-${String(i).padStart(2, '0')}.txt`, Buffer.from(`note ${i}\n`.repeat(1 + i * 40)));
    for (let i = 0; i < 12; i++) add(`day two/shot-${i}.bin`, randomBytes(1000 + i * 3000));
  });

  it('login keeps the key (mode 0600) after checking it; a wrong key or command is a clear error', async () => {
    const loggedOut = { key: '', url: '' };
    const bad = await run(['login', '--url', env.app.baseUrl], { ...loggedOut, input: 'not-a-key\n' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^mserve: GET \/me: 401/);
    const login = await run(['login', '--url', env.app.baseUrl], { ...loggedOut, input: `${tenant.customerKey}\n` });
    expect([login.code, login.stderr]).toEqual([0, '']);
    expect(login.stdout).toContain(`logged in to ${env.app.baseUrl}`);
    expect(login.stdout).toContain(`for service ${tenant.serviceId}`);
    expect(statSync(join(home, 'config.json')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))).toEqual({ url: env.app.baseUrl, key: tenant.customerKey });
    const whoami = await run(['whoami', '--json'], loggedOut);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ resource: { type: 'service', id: tenant.serviceId } });
    expect((await run(['nonsense'])).code).toBe(2);
    const nobody = await freePort();
    expect((await run(['ls', '--service', tenant.serviceId], { ...loggedOut, url: `http://127.0.0.1:${nobody}` })).stderr).toBe(
      `mserve: cannot reach MServe at http://127.0.0.1:${nobody}: ECONNREFUSED\n`,
    );
    const noService = await run(['upload', tree]);
    expect([noService.code, noService.stderr.trim()]).toEqual([2, 'mserve: upload needs --service <id>']);
  });

  it('uploads a folder of 50 files; interrupted, the next run resumes what was under way and skips what is there', async () => {
    const args = ['upload', tree, '--service', tenant.serviceId, '--parallel', '3', '--chunk-mib', '1'];
    const first = start(args);
    // Ctrl-C once both large files have bytes on the server and some small files are in
    await eventually(
      async () => {
        const rows: Array<{ offset: string }> = await env.app.dataSource.query(
          'SELECT "offset" FROM upload_session WHERE service_id = $1 AND name LIKE \'0-large-%\' AND completed_at IS NULL',
          [tenant.serviceId],
        );
        return rows.filter((row) => Number(row.offset) > 0).length >= 1 && (first.stdout().match(/^uploaded /gm) ?? []).length >= 4;
      },
      'a large file under way and some small ones in',
      60_000,
      20,
    );
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toMatch(/^paused {4}photos\/0-large-/m);
    expect(interrupted.stdout).toMatch(/not finished: run the same command again to resume$/m);
    const doneBefore = (interrupted.stdout.match(/^uploaded /gm) ?? []).length;
    // nothing half-made: every file in the service is whole
    const partial = await env.app.dataSource.query('SELECT count(*)::int AS n FROM mfile WHERE service_id = $1', [tenant.serviceId]);
    expect(partial[0].n).toBe(doneBefore);

    const second = await run([...args, '--json']);
    const report = JSON.parse(second.stdout) as {
      summary: Record<string, number>;
      files: Array<{ name: string; status: string; resumedAt?: number; mfileId: string; error?: string }>;
    };
    expect(report.files.filter((file) => file.status === 'failed')).toEqual([]);
    expect([second.code, second.stderr]).toEqual([0, '']);
    expect(report.summary).toMatchObject({ files: 50, skipped: doneBefore, uploaded: 50 - doneBefore, failed: 0, interrupted: 0 });
    expect(report.summary.resumed).toBeGreaterThanOrEqual(1);
    const resumed = report.files.filter((file) => file.resumedAt);
    for (const file of resumed) expect([file.name, file.resumedAt! > 0, file.resumedAt! < 64 * MiB]).toEqual([file.name, true, true]);
    // every file once, in its folder, with its bytes
    const listed = JSON.parse((await run(['ls', '--service', tenant.serviceId, '--json'])).stdout) as { folders: Array<{ id: string; name: string }> };
    expect(listed.folders.map((folder) => folder.name)).toEqual(['photos']);
    const photos = JSON.parse((await run(['ls', '--folder', listed.folders[0].id, '--json'])).stdout) as {
      folders: Array<{ id: string; name: string }>;
      files: Array<{ name: string }>;
    };
    expect(photos.folders.map((folder) => folder.name)).toEqual(['day two']);
    const rows: Array<{ path: string; sha256: string; size: string }> = await env.app.dataSource.query(
      `SELECT CASE WHEN f.name = 'day two' THEN 'photos/day two/' ELSE 'photos/' END || m.name AS path, m.sha256, m.size
         FROM mfile m JOIN mfolder f ON f.id = m.folder_id WHERE m.service_id = $1`,
      [tenant.serviceId],
    );
    expect(Object.fromEntries(rows.map((row) => [row.path, { sha256: row.sha256, size: Number(row.size) }]))).toEqual(Object.fromEntries(local));
    // no session left open, and a third run has nothing to do
    expect(
      (await env.app.dataSource.query('SELECT count(*)::int AS n FROM upload_session WHERE service_id = $1 AND completed_at IS NULL', [tenant.serviceId]))[0].n,
    ).toBe(0);
    const third = await run(args);
    expect(third.code).toBe(0);
    expect(third.stdout.trim().split('\n').pop()).toBe('0 uploaded (0 resumed, 0 B), 50 skipped, 0 replaced, 0 failed');
  }, 240_000);

  it('an upload the server opened but a stopped run never heard of is taken over when it is the same file, else refused', async () => {
    const tenant = await makeTenant(env.admin);
    const bytes = randomBytes(300_000);
    const path = join(env.work, 'adopt.bin');
    writeFileSync(path, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const open = (digest: string) =>
      fetch(`${env.app.api}/services/${tenant.serviceId}/uploads`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tenant.customerKey}`,
          'tus-resumable': '1.0.0',
          'upload-length': String(bytes.length),
          'upload-metadata': `filename ${Buffer.from('adopt.bin').toString('base64')},sha256 ${Buffer.from(digest).toString('base64')}`,
          'content-type': 'application/offset+octet-stream',
        },
        body: bytes.subarray(0, 100_000),
      });
    expect((await open(sha256)).status).toBe(201);
    const adopted = await run(['upload', path, '--service', tenant.serviceId, '--json'], { key: tenant.customerKey });
    expect(JSON.parse(adopted.stdout).files).toEqual([expect.objectContaining({ name: 'adopt.bin', status: 'uploaded', resumedAt: 100_000 })]);
    const [row] = await env.app.dataSource.query("SELECT sha256 FROM mfile WHERE service_id = $1 AND name = 'adopt.bin'", [tenant.serviceId]);
    expect(row.sha256).toBe(sha256);
    // someone else's upload of that name (other bytes) is not taken over
    const other = join(env.work, 'other', 'late.bin');
    mkdirSync(join(env.work, 'other'));
    writeFileSync(other, randomBytes(1000));
    const theirs = await fetch(`${env.app.api}/services/${tenant.serviceId}/uploads`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tenant.customerKey}`,
        'tus-resumable': '1.0.0',
        'upload-length': '1000',
        'upload-metadata': `filename ${Buffer.from('late.bin').toString('base64')}`,
      },
    });
    expect(theirs.status).toBe(201);
    const refused = await run(['upload', other, '--service', tenant.serviceId], { key: tenant.customerKey });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('FAILED    late.bin: 409 an upload of "late.bin" into this folder is already in progress');

    // an empty file is a file; a name a file system keeps decomposed (NFD, as macOS does) is the server's NFC name,
    // so a second run finds both there
    const odd = join(env.work, 'odd');
    mkdirSync(join(odd, 'Cafe\u0301'), { recursive: true });
    writeFileSync(join(odd, 'empty.txt'), '');
    writeFileSync(join(odd, 'Cafe\u0301', 'Me\u0301nu.txt'), 'soup\n');
    const once = await run(['upload', odd, '--service', tenant.serviceId, '--json'], { key: tenant.customerKey });
    expect(JSON.parse(once.stdout).summary).toMatchObject({ files: 2, uploaded: 2, failed: 0 });
    const names = await env.app.dataSource.query('SELECT m.name, m.size FROM mfile m WHERE m.service_id = $1 ORDER BY m.name', [tenant.serviceId]);
    expect(names).toEqual(
      expect.arrayContaining([
        { name: 'empty.txt', size: '0' },
        { name: 'M\u00e9nu.txt', size: '5' },
      ]),
    );
    const again = await run(['upload', odd, '--service', tenant.serviceId, '--json'], { key: tenant.customerKey });
    expect([again.code, JSON.parse(again.stdout).summary]).toEqual([0, expect.objectContaining({ skipped: 2, uploaded: 0, failed: 0 })]);

    // other bytes under a name that is there: reported, and replaced only when asked
    writeFileSync(join(odd, 'empty.txt'), 'not empty any more\n');
    const clash = await run(['upload', odd, '--service', tenant.serviceId], { key: tenant.customerKey });
    expect([clash.code, clash.stdout]).toEqual([
      1,
      expect.stringMatching(/^FAILED {4}odd\/empty\.txt: a different "empty\.txt" is already there \(.+\): --replace replaces its content$/m),
    ]);
    const replaced = await run(['upload', odd, '--service', tenant.serviceId, '--replace', '--json'], { key: tenant.customerKey });
    expect(JSON.parse(replaced.stdout).files).toEqual([
      expect.objectContaining({ name: 'odd/Caf\u00e9/M\u00e9nu.txt', status: 'skipped' }),
      expect.objectContaining({ name: 'odd/empty.txt', status: 'replaced' }),
    ]);
    const [after] = await env.app.dataSource.query("SELECT size FROM mfile WHERE service_id = $1 AND name = 'empty.txt'", [tenant.serviceId]);
    expect(after.size).toBe('19');
  }, 60_000);

  it("watches the service's jobs to their end; downloads a file with its sha256 checked; reports usage as a table, JSON and CSV", async () => {
    const watched = await run(['jobs', 'watch', '--service', tenant.serviceId, '--until-done', '--json']);
    expect([watched.code, watched.stderr]).toEqual([0, '']);
    for (const line of watched.stdout.trim().split('\n').filter(Boolean))
      expect(JSON.parse(line)).toMatchObject({ id: expect.any(String), state: expect.any(String) });
    const open = await env.app.dataSource.query("SELECT count(*)::int AS n FROM job WHERE service_id = $1 AND state IN ('waiting', 'queued', 'running')", [
      tenant.serviceId,
    ]);
    expect(open[0].n).toBe(0);

    const [large] = await env.app.dataSource.query("SELECT id FROM mfile WHERE service_id = $1 AND name = '0-large-a.bin'", [tenant.serviceId]);
    const out = join(env.work, 'downloads');
    mkdirSync(out);
    const fetched = await run(['download', large.id, '-o', out]);
    expect([fetched.code, fetched.stdout.trim()]).toEqual([0, `${join(out, '0-large-a.bin')} (67.1 MB, sha256 checked)`]);
    expect(
      createHash('sha256')
        .update(readFileSync(join(out, '0-large-a.bin')))
        .digest('hex'),
    ).toBe(local.get('photos/0-large-a.bin')!.sha256);

    const total = [...local.values()].reduce((sum, file) => sum + file.size, 0);
    const report = JSON.parse((await run(['usage', '--service', tenant.serviceId, '--metric', 'ingest', '--json'])).stdout) as {
      series: Array<{ metric: string; total: { sum: number } }>;
    };
    expect(report.series.find((series) => series.metric === 'ingest')?.total.sum).toBe(total);
    const human = await run(['usage', '--service', tenant.serviceId, '--metric', 'ingest']);
    expect(human.stdout).toMatch(/^METRIC +FROM +SUM +COUNT +LEVEL$/m);
    expect(human.stdout).toMatch(new RegExp(`^ingest .* ${total} +50 *$`, 'm'));
    const csv = await run(['usage', '--service', tenant.serviceId, '--metric', 'ingest', '--csv']);
    expect(csv.stdout.split('\n')[0]).toMatch(/metric/);
    expect(csv.stdout).toContain(String(total));
  }, 120_000);

  it('derives a read-only key that lists but cannot upload, and revokes it', async () => {
    const derived = await run(['keys', 'derive', '--action', 'service:read,mfolder:read', '--action', 'mfile:read', '--label', 'for a viewer', '--json']);
    expect([derived.code, derived.stderr]).toEqual([0, '']);
    const key = JSON.parse(derived.stdout) as { id: string; key: string; actions: string[]; label: string };
    expect(key).toMatchObject({ actions: ['service:read', 'mfolder:read', 'mfile:read'], label: 'for a viewer' });
    const listed = await run(['ls', '--service', tenant.serviceId], { key: key.key });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^photos\/ +folder/m);
    const refused = await run(['upload', join(tree, 'note-00.txt'), '--service', tenant.serviceId, '--json'], { key: key.key });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).files[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/^403 /) });
    const keys = await run(['keys', 'ls']);
    expect(keys.stdout).toMatch(new RegExp(`^${key.id} +for a viewer +service:${tenant.serviceId} +service:read,mfolder:read,mfile:read`, 'm'));
    const revoked = await run(['keys', 'revoke', key.id]);
    expect([revoked.code, revoked.stdout.trim()]).toEqual([0, `revoked ${key.id} and every key derived from it`]);
    const after = await run(['whoami'], { key: key.key });
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/^mserve: GET \/me: 401/);
  }, 60_000);
});
