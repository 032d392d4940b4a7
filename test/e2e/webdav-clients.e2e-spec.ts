import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { Client, makeTenant } from '../support/client';
import { allPages, dav, davPath, lockBody, lockTokenOf, parseMultistatus, propfind, restTree, runTool } from '../support/dav';
import { eventually, startRole, waitForExit } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

const MiB = 1024 * 1024;
const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Deterministic bytes for a path: a text first line (so content sniffing never sees an image) then pseudo-random bytes. */
function contentFor(path: string, size: number): Buffer {
  const head = Buffer.from(`mserve webdav test file ${path}\n`);
  if (size <= head.length) return head.subarray(0, size);
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(path).digest(), Buffer.alloc(16));
  return Buffer.concat([head, cipher.update(Buffer.alloc(size - head.length))]);
}

/** Every regular file under `root`, by its relative path ('/'-separated), with size and md5. */
function localTree(root: string): Map<string, { size: number; md5: string }> {
  const found = new Map<string, { size: number; md5: string }>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else found.set(relative(root, path).split('\\').join('/'), { size: statSync(path).size, md5: md5(readFileSync(path)) });
    }
  };
  walk(root);
  return found;
}

/** 200 files in nested folders: 0 B to 8 MiB, names with spaces, accents, CJK and emoji. */
function makeTree(root: string): void {
  const smallSizes = [0, 1, 3, 17, 100, 512, 1023, 1024, 1025, 4096, 10_000, 65_535, 65_536, 100_000, 250_000];
  const names = [
    (i: number) => `file ${i}.txt`,
    (i: number) => `été 写真 ${i}.txt`,
    (i: number) => `naïve café ${i}.md`,
    (i: number) => `Ünïcødé ${i}.bin`,
    (i: number) => `🎞 notes ${i}.txt`,
  ];
  const layout: Array<[string, number]> = [
    ['', 10],
    ['docs', 40],
    ['docs/old', 20],
    ['photos', 30],
    ['photos/été 写真', 20],
    ['misc', 20],
    ['misc/sub', 25],
    ['misc/sub/deeper', 29],
  ];
  let n = 0;
  for (const [folder, count] of layout) {
    mkdirSync(join(root, folder), { recursive: true });
    for (let i = 0; i < count; i++, n++) {
      const name = folder === '' && i === 0 ? 'été 写真.txt' : names[n % names.length](n);
      const path = folder ? `${folder}/${name}` : name;
      writeFileSync(join(root, path), contentFor(path, smallSizes[n % smallSizes.length]));
    }
  }
  const big = [8 * MiB, 8 * MiB - 1, 5 * MiB, 3 * MiB + 7, MiB + 1, MiB];
  mkdirSync(join(root, 'big'));
  big.forEach((size, i) => writeFileSync(join(root, `big/large ${i}.bin`), contentFor(`big/large ${i}.bin`, size)));
  n += big.length;
  if (n !== 200) throw new Error(`the tree has ${n} files, not 200`);
}

interface JobRow {
  id: string;
  step: string | null;
  task: string;
  state: string;
  error: string | null;
  result: any;
}
const FINAL = ['succeeded', 'failed', 'cancelled', 'skipped'];

/** A cadaver session driven line by line: each command waits for the next `dav:...> ` prompt. */
class Cadaver {
  private output = '';
  private readonly child: ChildProcessWithoutNullStreams;
  constructor(url: string, home: string, cwd: string) {
    this.child = spawn('cadaver', [url], { cwd, env: { ...process.env, HOME: home, LANG: 'C.UTF-8' } });
    this.child.stdout.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }
  get transcript() {
    return this.output;
  }
  private async prompt(from: number): Promise<string> {
    await eventually(async () => this.child.exitCode !== null || /dav:[^\n]*> $/.test(this.output.slice(from)), 'the cadaver prompt', 60_000, 20);
    return this.output.slice(from);
  }
  async start() {
    return this.prompt(0);
  }
  /** Sends one command and returns what cadaver printed for it (up to the next prompt). */
  async send(command: string): Promise<string> {
    const from = this.output.length;
    this.child.stdin.write(`${command}\n`);
    return (await this.prompt(from)).replace(/dav:[^\n]*> $/, '');
  }
  async quit() {
    this.child.stdin.end('quit\n');
    await waitForExit(this.child);
  }
}

describe('WebDAV clients: rclone, cadaver, the webdav npm client (two api processes, one worker)', () => {
  let first: TestApp;
  let second: TestApp;
  let worker: ReturnType<typeof startRole>;
  let admin: Client;
  const work = mkdtempSync(join(process.env.VAR_DIR!, 'dav-clients-'));

  beforeAll(async () => {
    first = await startTestApp();
    // same database, queues and storage: locks and dead properties live in PostgreSQL, bytes in the shared store
    second = await startTestApp(sharedWith(first.config));
    worker = startRole('worker', { ...sharedWith(first.config), LOG_LEVEL: 'warn' }, ['--queues', 'normal:4,priority:1']);
    admin = new Client(first.api, first.adminKey);
  });
  afterAll(async () => {
    if (worker.exitCode === null) {
      worker.kill('SIGTERM');
      await waitForExit(worker).catch(() => worker.kill('SIGKILL'));
    }
    await second.close();
    await first.close();
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * Every job of the service final and each of `steps` recorded for every file (the service list does not say which
   * file a job ran on, so it is counted there, then each file's own jobs are read once).
   */
  const jobsSettled = async (customer: Client, serviceId: string, mfileIds: string[], steps: string[], timeoutMs = 600_000) => {
    await eventually(
      async () => {
        const jobs = await allPages<JobRow>(customer, `/services/${serviceId}/jobs`);
        if (jobs.some((job) => !FINAL.includes(job.state))) return undefined;
        return steps.every((step) => jobs.filter((job) => job.step === step).length >= mfileIds.length);
      },
      'the ingest jobs to finish',
      timeoutMs,
      1000,
    );
    const byFile = new Map<string, JobRow[]>();
    for (const id of mfileIds) byFile.set(id, await allPages<JobRow>(customer, `/mfiles/${id}/jobs`));
    return byFile;
  };

  it('rclone: copies a 200-file tree in, checks it byte for byte, moves a folder, deletes and purges; REST and the ingest jobs agree', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const local = join(work, 'tree');
    makeTree(local);
    const config = join(work, 'rclone.conf');
    writeFileSync(config, '');
    const obscured = (await runTool('rclone', ['--config', config, 'obscure', tenant.customerKey])).stdout.trim();
    const remote = ['--config', config, '--webdav-url', `${first.baseUrl}/dav/`, '--webdav-user', 'x', '--webdav-pass', obscured, '--webdav-vendor', 'other'];
    // strict: a server error is not hidden behind rclone's retries
    const strict = ['--retries', '1', '--low-level-retries', '1', '--transfers', '4', '--checkers', '8'];
    const rclone = async (...args: string[]) => {
      const run = await runTool('rclone', [...args, ...remote, ...strict]);
      if (run.code !== 0) console.log(`rclone ${args.join(' ')} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
      return run;
    };

    expect((await rclone('copy', local, ':webdav:')).code).toBe(0);
    expect((await rclone('check', local, ':webdav:', '--download')).code).toBe(0);

    // REST: the same 200 files, the same bytes, at the same paths
    const expected = localTree(local);
    expect(expected.size).toBe(200);
    let rest = await restTree(customer, tenant.rootFolderId);
    expect([...rest.files.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [path, file] of expected) expect([path, rest.files.get(path)!.size, rest.files.get(path)!.md5]).toEqual([path, file.size, file.md5]);
    expect((await allPages(customer, `/services/${tenant.serviceId}/mfiles`)).length).toBe(200);
    for (const folder of ['docs', 'docs/old', 'photos', 'photos/été 写真', 'misc', 'misc/sub', 'misc/sub/deeper', 'big'])
      expect(rest.folders.has(folder)).toBe(true);

    // the ingest pipeline ran for every file: mime and md5 succeeded, md5 equals the recorded one, nothing failed
    const ids = [...rest.files.values()].map((file) => file.id);
    const byFile = await jobsSettled(customer, tenant.serviceId, ids, ['mime', 'md5']);
    for (const [path, file] of rest.files) {
      const jobs = byFile.get(file.id)!;
      const step = (name: string) => jobs.find((job) => job.step === name)!;
      expect([path, step('mime').state, step('md5').state, step('md5').result]).toEqual([
        path,
        'succeeded',
        'succeeded',
        { md5: expected.get(path)!.md5, matchesRecorded: true },
      ]);
      expect([path, jobs.filter((job) => job.state === 'failed').map((job) => `${job.step}: ${job.error}`)]).toEqual([path, []]);
    }

    // a folder moved (server-side MOVE), a folder's files deleted, a folder purged: the same done locally
    const before = rest;
    expect((await rclone('moveto', ':webdav:photos', ':webdav:archive/photos 2024')).code).toBe(0);
    expect((await rclone('delete', ':webdav:misc/sub')).code).toBe(0);
    expect((await rclone('purge', ':webdav:docs/old')).code).toBe(0);
    mkdirSync(join(local, 'archive'));
    renameSync(join(local, 'photos'), join(local, 'archive/photos 2024'));
    for (const path of [...expected.keys()].filter((candidate) => candidate.startsWith('misc/sub/'))) rmSync(join(local, path));
    rmSync(join(local, 'docs/old'), { recursive: true });

    const after = localTree(local);
    rest = await restTree(customer, tenant.rootFolderId);
    expect([...rest.files.keys()].sort()).toEqual([...after.keys()].sort());
    for (const [path, file] of after) expect([path, rest.files.get(path)!.md5]).toEqual([path, file.md5]);
    // a MOVE keeps each Mfile (same id, so its keys and jobs stay with it)
    for (const [path, file] of before.files) {
      if (path.startsWith('photos/')) expect([path, rest.files.get(`archive/photos 2024/${path.slice('photos/'.length)}`)?.id]).toEqual([path, file.id]);
    }
    // rclone delete keeps the (now empty) folders, purge removes the folder
    expect(
      ['misc/sub', 'misc/sub/deeper', 'archive', 'archive/photos 2024', 'archive/photos 2024/été 写真'].filter((folder) => !rest.folders.has(folder)),
    ).toEqual([]);
    expect(['photos', 'docs/old', 'photos/été 写真'].filter((folder) => rest.folders.has(folder))).toEqual([]);
    expect((await allPages(customer, `/services/${tenant.serviceId}/mfiles`)).length).toBe(after.size);
    expect((await rclone('check', local, ':webdav:', '--download')).code).toBe(0);
  }, 900_000);

  it('cadaver: a scripted session (mkcol, put, ls, get, move, copy, propset/propget, lock/unlock, delete) with ~/.netrc credentials', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const home = mkdtempSync(join(work, 'home-'));
    writeFileSync(join(home, '.netrc'), `machine 127.0.0.1 login x password ${tenant.customerKey}\n`, { mode: 0o600 });
    writeFileSync(join(home, 'hello.txt'), 'hello from cadaver\n');
    writeFileSync(join(home, 'second.txt'), 'second version, written under the lock\n');
    const cadaver = new Cadaver(`${first.baseUrl}/dav/`, home, home);
    try {
      await cadaver.start();
      const ok = async (command: string) => {
        const output = await cadaver.send(command);
        expect([command, output]).toEqual([command, expect.stringMatching(/succeeded\./)]);
        expect([command, /failed|error/i.test(output)]).toEqual([command, false]);
        return output;
      };
      await ok('mkcol notes');
      await ok('put hello.txt notes/hello.txt');
      const listing = await ok('ls notes');
      expect(listing).toMatch(/hello\.txt\s+19\b/);
      await ok('get notes/hello.txt back.txt');
      expect(readFileSync(join(home, 'back.txt'), 'utf8')).toBe('hello from cadaver\n');
      await ok('move notes/hello.txt notes/moved.txt');
      await ok('copy notes/moved.txt notes/copy.txt');
      await ok('propset notes/copy.txt color red');
      const prop = await cadaver.send('propget notes/copy.txt color');
      expect(prop).toMatch(/red/);

      await ok('lock notes/copy.txt');
      // the lock is real: another client without the token is refused
      const intruder = await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('notes', 'copy.txt'), { body: 'intruder' });
      expect(intruder.status).toBe(423);
      // ... also through the other api process (locks live in PostgreSQL)
      expect((await dav(second.baseUrl, tenant.customerKey, 'DELETE', davPath('notes', 'copy.txt'))).status).toBe(423);
      await ok('put second.txt notes/copy.txt');
      await ok('unlock notes/copy.txt');
      await ok('delete notes/moved.txt');
      const final = await ok('ls notes');
      expect(final).toMatch(/copy\.txt/);
      expect(final).not.toMatch(/moved\.txt|hello\.txt/);
    } finally {
      await cadaver.quit().catch(() => undefined);
      console.log(`cadaver transcript:\n${cadaver.transcript}`);
    }
    const rest = await restTree(customer, tenant.rootFolderId);
    expect([...rest.folders.keys()]).toEqual(['notes']);
    expect([...rest.files.keys()]).toEqual(['notes/copy.txt']);
    const copy = rest.files.get('notes/copy.txt')!;
    expect(copy.md5).toBe(md5(Buffer.from('second version, written under the lock\n')));
    // the dead property cadaver set is on the file, in cadaver's namespace
    const [entry] = await propfind(first.baseUrl, tenant.customerKey, davPath('notes', 'copy.txt'), '0');
    expect(entry.prop('color')).toBe('red');
    // unlocked: anyone with the key may write again
    expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('notes', 'copy.txt'), { body: 'after unlock' })).status).toBeLessThan(300);
  }, 300_000);

  describe('the webdav npm client and raw requests: edge cases', () => {
    let tenant: Awaited<ReturnType<typeof makeTenant>>;
    let customer: Client;
    let client: any;

    beforeAll(async () => {
      tenant = await makeTenant(admin);
      customer = admin.as(tenant.customerKey);
      const { createClient } = await import('webdav');
      client = createClient(`${first.baseUrl}/dav`, { username: 'x', password: tenant.customerKey });
    });

    it('stores names with Unicode, spaces, %, names differing only in case, and a 255-character name', async () => {
      const names = [
        'été 写真.txt',
        'two  spaces here.txt',
        '100% sure.txt',
        '%41 not an A.txt',
        'a%2Fb.txt',
        'Readme.md',
        'README.md',
        'readme.MD',
        `${'n'.repeat(251)}.txt`,
        'ÅNGSTRÖM ﬁ ligature.txt',
        '🎞 clip.txt',
      ];
      expect(names.find((name) => name.length === 255)).toBeDefined();
      const content = (name: string) => Buffer.from(`content of ${name}\n`);
      for (const name of names) expect([name, await client.putFileContents(`/${name}`, content(name))]).toEqual([name, true]);
      const listed = (await client.getDirectoryContents('/')) as Array<{ basename: string; type: string; size: number }>;
      expect(
        listed
          .filter((item) => item.type === 'file')
          .map((item) => item.basename)
          .sort(),
      ).toEqual([...names].sort());
      for (const name of names) {
        const bytes = Buffer.from((await client.getFileContents(`/${name}`)) as ArrayBuffer);
        expect([name, bytes.toString()]).toEqual([name, content(name).toString()]);
      }
      const rest = await restTree(customer, tenant.rootFolderId);
      expect([...rest.files.keys()].sort()).toEqual([...names].sort());
      for (const name of names) expect([name, rest.files.get(name)!.md5]).toEqual([name, md5(content(name))]);
      // one byte over 255 is refused and creates nothing
      const tooLong = await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath(`${'n'.repeat(252)}.txt`), { body: 'x' });
      expect(tooLong.status).toBeGreaterThanOrEqual(400);
      expect(tooLong.status).toBeLessThan(500);
      expect((await restTree(customer, tenant.rootFolderId)).files.size).toBe(names.length);
    });

    it('never lets .., %2e%2e, %2F or backslashes leave the mount root, nor reach another tenant', async () => {
      const a = await makeTenant(admin);
      const b = await makeTenant(admin);
      const aCustomer = admin.as(a.customerKey);
      const inner = await aCustomer.post(`/mfolders/${a.rootFolderId}/mfolders`, { name: 'inner' });
      expect(inner.status).toBe(201);
      const outside = await aCustomer.upload(a.serviceId, 'outside.txt', Buffer.from('OUTSIDE-A'));
      expect((await aCustomer.upload(a.serviceId, 'inside.txt', Buffer.from('INSIDE-A'), `?folderId=${inner.body.id}`)).status).toBe(201);
      const secret = await admin.as(b.customerKey).upload(b.serviceId, 'secret-b.txt', Buffer.from('SECRET-B'));
      expect([outside.status, secret.status]).toEqual([201, 201]);
      const innerKey = (await aCustomer.post('/keys', { roles: ['servicecustomer'], resource: { type: 'mfolder', id: inner.body.id } })).body.key as string;
      const bServiceName = (await admin.as(b.customerKey).get(`/services/${b.serviceId}`)).body.name as string;
      const aServiceName = (await aCustomer.get(`/services/${a.serviceId}`)).body.name as string;
      // the folder key's mount is `inner`: inside.txt is there, outside.txt is not
      expect((await dav(first.baseUrl, innerKey, 'GET', '/dav/inside.txt')).text).toBe('INSIDE-A');

      const escapes = [
        '/dav/../outside.txt',
        '/dav/%2e%2e/outside.txt',
        '/dav/%2E%2E/outside.txt',
        '/dav/..%2foutside.txt',
        '/dav/..%2Foutside.txt',
        '/dav/%2e%2e%2foutside.txt',
        '/dav/inside.txt/../../outside.txt',
        '/dav/./../outside.txt',
        '/dav//../outside.txt',
        '/dav/..%5coutside.txt',
        '/dav/..\\outside.txt',
        '/dav/%2e%2e%5coutside.txt',
        '/dav/%252e%252e/outside.txt',
        '/dav/%c0%ae%c0%ae/outside.txt',
        '/dav/inside.txt%2f..%2f..%2foutside.txt',
        '/dav/..;/outside.txt',
        `/dav/../../api/v1/mfiles/${secret.body.id}/content`,
        `/dav/%2e%2e/%2e%2e/api/v1/mfiles/${outside.body.id}/content`,
      ];
      const seen: string[] = [];
      for (const target of escapes) {
        for (const method of ['GET', 'PROPFIND', 'DELETE']) {
          const reply = await dav(first.baseUrl, innerKey, method, target, method === 'PROPFIND' ? { headers: { depth: '0' } } : {});
          seen.push(`${method} ${target} → ${reply.status}`);
          expect([method, target, [400, 403, 404].includes(reply.status)]).toEqual([method, target, true]);
          // (an error message may echo the requested path; what must never come back is content or a listing entry)
          expect([method, target, /OUTSIDE-A|SECRET-B|<(?:[\w.-]+:)?href>[^<]*(?:outside\.txt|secret-b)/.test(reply.text)]).toEqual([method, target, false]);
        }
      }
      // a PUT may only ever land inside the mount (a server that clamps `..` at the mount root writes there)
      for (const target of escapes) {
        const put = await dav(first.baseUrl, innerKey, 'PUT', target, { body: 'ESCAPED' });
        seen.push(`PUT ${target} → ${put.status}`);
        expect([target, put.status < 500]).toEqual([target, true]);
      }
      // through the container key, another tenant's service is not there by any spelling
      for (const target of [
        davPath(bServiceName, 'secret-b.txt'),
        `${davPath(aServiceName)}/../${encodeURIComponent(bServiceName)}/secret-b.txt`,
        `${davPath(aServiceName)}/..%2F${encodeURIComponent(bServiceName)}/secret-b.txt`,
        `${davPath(aServiceName)}%2F..%2F${encodeURIComponent(bServiceName)}%2Fsecret-b.txt`,
        `/dav/%2e%2e/${encodeURIComponent(bServiceName)}/secret-b.txt`,
      ]) {
        const reply = await dav(first.baseUrl, a.containerKey, 'GET', target);
        seen.push(`GET(container key) ${target} → ${reply.status}`);
        expect([target, [400, 403, 404].includes(reply.status), reply.text.includes('SECRET-B')]).toEqual([target, true, false]);
      }
      // COPY/MOVE destinations that try to climb out
      for (const destination of [
        '/dav/../copied-out.txt',
        '/dav/%2e%2e/copied-out.txt',
        '/dav/..%2Fcopied-out.txt',
        `/dav/../../dav/copied-out.txt`,
        `${davPath(bServiceName)}/stolen.txt`,
      ]) {
        for (const method of ['COPY', 'MOVE']) {
          const reply = await dav(first.baseUrl, innerKey, method, '/dav/inside.txt', {
            headers: { destination: `${first.baseUrl}${destination}`, overwrite: 'F' },
          });
          seen.push(`${method} → ${destination}: ${reply.status}`);
          // 502: RFC 4918 9.8.5 / 9.9.4, the destination is outside this URL namespace
          expect([method, destination, reply.status < 500 || reply.status === 502]).toEqual([method, destination, true]);
        }
      }
      console.log(`traversal attempts:\n${seen.join('\n')}`);
      // nothing outside `inner` changed, nothing appeared in B, and outside.txt is intact
      const aTree = await restTree(aCustomer, a.rootFolderId);
      expect([...aTree.files.keys()].filter((path) => !path.startsWith('inner/')).sort()).toEqual(['outside.txt']);
      expect(aTree.files.get('outside.txt')!.md5).toBe(md5(Buffer.from('OUTSIDE-A')));
      expect([...(await restTree(admin.as(b.customerKey), b.rootFolderId)).files.keys()]).toEqual(['secret-b.txt']);
    });

    it('stores a chunked (no Content-Length) PUT completely', async () => {
      const chunks = Array.from({ length: 40 }, (_, i) => contentFor(`chunk-${i}`, 64 * 1024 + i));
      const whole = Buffer.concat(chunks);
      const reply = await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('chunked upload.bin'), { chunks });
      expect(reply.status).toBe(201);
      const file = (await restTree(customer, tenant.rootFolderId)).files.get('chunked upload.bin')!;
      expect(file).toMatchObject({ size: whole.length, md5: md5(whole), sha256: sha256(whole) });
      const back = await dav(first.baseUrl, tenant.customerKey, 'GET', davPath('chunked upload.bin'));
      expect(back.body.equals(whole)).toBe(true);
    });

    it('answers Range GETs with 206 and the exact bytes; the ETag of GET equals getetag in PROPFIND', async () => {
      const bytes = contentFor('range.bin', 100_000);
      expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('range.bin'), { body: bytes })).status).toBe(201);
      const part = await dav(first.baseUrl, tenant.customerKey, 'GET', davPath('range.bin'), { headers: { range: 'bytes=1000-1999' } });
      expect(part.status).toBe(206);
      expect(part.headers['content-range']).toBe('bytes 1000-1999/100000');
      expect(part.body.equals(bytes.subarray(1000, 2000))).toBe(true);
      const tail = await dav(first.baseUrl, tenant.customerKey, 'GET', davPath('range.bin'), { headers: { range: 'bytes=-10' } });
      expect([tail.status, tail.body.equals(bytes.subarray(-10))]).toEqual([206, true]);
      const full = await dav(first.baseUrl, tenant.customerKey, 'GET', davPath('range.bin'));
      expect([full.status, full.body.equals(bytes)]).toEqual([200, true]);
      const etag = full.headers.etag;
      expect(etag).toBeTruthy();
      const [entry] = await propfind(first.baseUrl, tenant.customerKey, davPath('range.bin'), '0');
      expect(entry.prop('getetag')).toBe(etag);
      expect(entry.prop('getcontentlength')).toBe('100000');
      // a conditional GET with that ETag: 304; a new PUT changes it
      expect((await dav(first.baseUrl, tenant.customerKey, 'GET', davPath('range.bin'), { headers: { 'if-none-match': etag as string } })).status).toBe(304);
      expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('range.bin'), { body: 'replaced' })).status).toBeLessThan(300);
      const [changed] = await propfind(first.baseUrl, tenant.customerKey, davPath('range.bin'), '0');
      expect(changed.prop('getetag')).not.toBe(etag);
    });

    it('reports getcontenttype as the mime task found it', async () => {
      const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 30, b: 30 } } })
        .png()
        .toBuffer();
      expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('picture with no extension'), { body: png })).status).toBe(201);
      expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('plain.txt'), { body: 'just words\n' })).status).toBe(201);
      const files = (await restTree(customer, tenant.rootFolderId)).files;
      for (const name of ['picture with no extension', 'plain.txt']) {
        const id = files.get(name)!.id;
        await eventually(
          async () => {
            const jobs = (await customer.get(`/mfiles/${id}/jobs?limit=100`)).body.items as JobRow[];
            return jobs.some((job) => job.step === 'mime' && job.state === 'succeeded');
          },
          `the mime job of ${name}`,
          120_000,
          200,
        );
        const mimetype = (await customer.get(`/mfiles/${id}`)).body.mimetype as string;
        const [entry] = await propfind(first.baseUrl, tenant.customerKey, davPath(name), '0');
        expect([name, entry.prop('getcontenttype')]).toEqual([name, mimetype]);
        // and the other api process says the same
        const [other] = await propfind(second.baseUrl, tenant.customerKey, davPath(name), '0');
        expect([name, other.prop('getcontenttype')]).toEqual([name, mimetype]);
      }
      expect((await customer.get(`/mfiles/${files.get('picture with no extension')!.id}`)).body.mimetype).toBe('image/png');
    });

    it('keeps dead properties and locks in PostgreSQL: visible and enforced by a second api process', async () => {
      expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('shared.txt'), { body: 'v1' })).status).toBe(201);
      const proppatch = `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-mserve-test:"><D:set><D:prop><Z:color>blue &amp; green</Z:color><Z:rating>5</Z:rating></D:prop></D:set></D:propertyupdate>`;
      const set = await dav(first.baseUrl, tenant.customerKey, 'PROPPATCH', davPath('shared.txt'), {
        headers: { 'content-type': 'application/xml' },
        body: proppatch,
      });
      expect(set.status).toBe(207);
      expect(set.text).toMatch(/200 OK/);
      const ask = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:x-mserve-test:"><D:prop><Z:color/><Z:rating/></D:prop></D:propfind>`;
      const fromSecond = await dav(second.baseUrl, tenant.customerKey, 'PROPFIND', davPath('shared.txt'), {
        headers: { depth: '0', 'content-type': 'application/xml' },
        body: ask,
      });
      expect(fromSecond.status).toBe(207);
      const [entry] = parseMultistatus(fromSecond.text);
      expect([entry.prop('color'), entry.prop('rating')]).toEqual(['blue & green', '5']);
      // removed on the second, gone on the first
      const remove = `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-mserve-test:"><D:remove><D:prop><Z:rating/></D:prop></D:remove></D:propertyupdate>`;
      expect(
        (await dav(second.baseUrl, tenant.customerKey, 'PROPPATCH', davPath('shared.txt'), { headers: { 'content-type': 'application/xml' }, body: remove }))
          .status,
      ).toBe(207);
      const [again] = parseMultistatus(
        (await dav(first.baseUrl, tenant.customerKey, 'PROPFIND', davPath('shared.txt'), { headers: { depth: '0' }, body: ask })).text,
      );
      expect(again.prop('color')).toBe('blue & green');
      expect(again.xml).toMatch(/rating[\s\S]*404/);

      const lock = await dav(first.baseUrl, tenant.customerKey, 'LOCK', davPath('shared.txt'), {
        headers: { timeout: 'Second-600', 'content-type': 'application/xml' },
        body: lockBody(),
      });
      expect(lock.status).toBe(200);
      const token = lockTokenOf(lock)!;
      expect(token).toMatch(/^opaquelocktoken:|^urn:uuid:/);
      // the second process knows the lock
      const discovered = parseMultistatus(
        (
          await dav(second.baseUrl, tenant.customerKey, 'PROPFIND', davPath('shared.txt'), {
            headers: { depth: '0' },
            body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>',
          })
        ).text,
      );
      expect(discovered[0].prop('lockdiscovery')).toContain(token);
      expect((await dav(second.baseUrl, tenant.customerKey, 'PUT', davPath('shared.txt'), { body: 'v2 without token' })).status).toBe(423);
      expect((await dav(second.baseUrl, tenant.customerKey, 'DELETE', davPath('shared.txt'))).status).toBe(423);
      expect((await dav(second.baseUrl, tenant.customerKey, 'PROPPATCH', davPath('shared.txt'), { body: proppatch })).status).toBe(423);
      // a second exclusive lock is refused
      expect(
        (
          await dav(second.baseUrl, tenant.customerKey, 'LOCK', davPath('shared.txt'), {
            headers: { 'content-type': 'application/xml' },
            body: lockBody('other'),
          })
        ).status,
      ).toBe(423);
      const withToken = await dav(second.baseUrl, tenant.customerKey, 'PUT', davPath('shared.txt'), { headers: { if: `(<${token}>)` }, body: 'v2 with token' });
      expect([200, 201, 204]).toContain(withToken.status);
      expect((await dav(first.baseUrl, tenant.customerKey, 'GET', davPath('shared.txt'))).text).toBe('v2 with token');
      expect((await dav(second.baseUrl, tenant.customerKey, 'UNLOCK', davPath('shared.txt'), { headers: { 'lock-token': `<${token}>` } })).status).toBe(204);
      expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('shared.txt'), { body: 'v3 after unlock' })).status).toBeLessThan(300);
      const file = (await restTree(customer, tenant.rootFolderId)).files.get('shared.txt')!;
      expect(file.md5).toBe(md5(Buffer.from('v3 after unlock')));
    });

    it('answers COPY with Overwrite: F onto an existing resource with 412, and MKCOL with a body with 415', async () => {
      expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('copy-source.txt'), { body: 'source' })).status).toBe(201);
      expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('copy-target.txt'), { body: 'target' })).status).toBe(201);
      const copy = await dav(first.baseUrl, tenant.customerKey, 'COPY', davPath('copy-source.txt'), {
        headers: { destination: `${first.baseUrl}${davPath('copy-target.txt')}`, overwrite: 'F' },
      });
      expect(copy.status).toBe(412);
      expect((await dav(first.baseUrl, tenant.customerKey, 'GET', davPath('copy-target.txt'))).text).toBe('target');
      const overwrite = await dav(first.baseUrl, tenant.customerKey, 'COPY', davPath('copy-source.txt'), {
        headers: { destination: `${first.baseUrl}${davPath('copy-target.txt')}`, overwrite: 'T' },
      });
      expect(overwrite.status).toBe(204);
      expect((await dav(first.baseUrl, tenant.customerKey, 'GET', davPath('copy-target.txt'))).text).toBe('source');

      const mkcol = await dav(first.baseUrl, tenant.customerKey, 'MKCOL', davPath('with body'), {
        headers: { 'content-type': 'text/xml' },
        body: '<?xml version="1.0"?><foo xmlns="DAV:"/>',
      });
      expect(mkcol.status).toBe(415);
      expect((await restTree(customer, tenant.rootFolderId)).folders.has('with body')).toBe(false);
      expect((await dav(first.baseUrl, tenant.customerKey, 'MKCOL', davPath('without body'))).status).toBe(201);
      expect((await restTree(customer, tenant.rootFolderId)).folders.has('without body')).toBe(true);
    });

    it('refuses a MOVE or COPY onto a collection that contains the source (403), and one into its own subtree; nothing moves', async () => {
      expect((await dav(first.baseUrl, tenant.customerKey, 'MKCOL', davPath('outer'))).status).toBe(201);
      expect((await dav(first.baseUrl, tenant.customerKey, 'MKCOL', davPath('outer', 'inner'))).status).toBe(201);
      expect((await dav(first.baseUrl, tenant.customerKey, 'PUT', davPath('outer', 'inner', 'kept.txt'), { body: 'kept' })).status).toBe(201);
      for (const [method, from, to] of [
        ['MOVE', 'outer/inner/kept.txt', 'outer'],
        ['MOVE', 'outer/inner', 'outer'],
        ['COPY', 'outer/inner', 'outer'],
        ['MOVE', 'outer', 'outer/inner/deeper'],
        ['COPY', 'outer', 'outer/inner/deeper'],
      ]) {
        const reply = await dav(first.baseUrl, tenant.customerKey, method, davPath(...from.split('/')), {
          headers: { destination: `${first.baseUrl}${davPath(...to.split('/'))}`, overwrite: 'T' },
        });
        expect({ method, from, to, status: reply.status }).toEqual({ method, from, to, status: 403 });
      }
      expect((await dav(first.baseUrl, tenant.customerKey, 'GET', davPath('outer', 'inner', 'kept.txt'))).text).toBe('kept');
    });
  });
});
