import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appWithWorker, FINAL_JOB_STATES, JobRow } from '../support/app-with-worker';
import { Client, makeTenant } from '../support/client';
import { dav, davPath, propfind } from '../support/dav';
import { run, testClip } from '../support/media';
import { eventually, waitForExit } from '../support/processes';

/** The pids of the processes named `name` whose parent is `parent`, read from /proc (what `ps --ppid` shows). */
function childrenNamed(parent: number, name: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read around the last ')'
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (comm === name && ppid === parent) found.push(Number(entry));
  }
  return found;
}

/** An hour of ffmpeg's testsrc at 1 frame per second: 12 MB, minutes of work for a transcode. */
const longClip = (path: string) => testClip(path, 3600, '320x240', 1);

/**
 * Issue 16, the media slice, against the real api and a real worker process (ffmpeg and ffprobe as its children):
 * mime spoofing, playlists, pixel caps on video, cancel and time limits of ffmpeg, and what task errors may say.
 */
describe('media tasks: what an attacker with a customer key cannot make them do', () => {
  const env = appWithWorker('mserve-media-security-');

  const jobsOf = async (customer: Client, mfileId: string): Promise<JobRow[]> => (await customer.get(`/mfiles/${mfileId}/jobs`)).body.items;
  const settled = (customer: Client, mfileId: string) =>
    eventually(
      async () => {
        const jobs = await jobsOf(customer, mfileId);
        return jobs.length > 0 && jobs.every((job) => FINAL_JOB_STATES.includes(job.state)) ? jobs : undefined;
      },
      `the jobs of ${mfileId} to end`,
      120_000,
      200,
    );

  it('a text file named evil.jpg is stored and served as text, over REST and WebDAV, at upload and after the mime task', async () => {
    const { app, admin } = env;
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const script = Buffer.from('<html><script>alert(document.cookie)</script></html>\n');
    const rest = await customer.upload(tenant.serviceId, 'evil.jpg', script);
    expect(rest.status).toBe(201);
    expect(rest.body.mimetype).toBe('text/plain');
    expect((await dav(app.baseUrl, tenant.customerKey, 'PUT', davPath('evil-dav.jpg'), { body: script })).status).toBe(201);
    const viaDav = (await customer.get(`/services/${tenant.serviceId}/mfiles?name=evil-dav`)).body.items[0];
    expect(viaDav.mimetype).toBe('text/plain');
    for (const file of [rest.body, viaDav]) {
      const jobs = await settled(customer, file.id);
      const mime = jobs.find((job) => job.task === 'mime')!;
      expect(mime).toMatchObject({ state: 'succeeded', result: { mimetype: 'text/plain' } });
      // no image task took it for a picture
      expect(jobs.filter((job) => ['thumbnail', 'poster', 'image-metadata'].includes(job.task)).map((job) => job.state)).not.toContain('succeeded');
      expect((await customer.get(`/mfiles/${file.id}`)).body.mimetype).toBe('text/plain');
      const download = await customer.get(`/mfiles/${file.id}/content`);
      expect(download.headers.get('content-type')).toMatch(/^text\/plain/);
    }
    const davGet = await dav(app.baseUrl, tenant.customerKey, 'GET', davPath('evil.jpg'));
    expect(davGet.status).toBe(200);
    expect(davGet.headers['content-type']).toMatch(/^text\/plain/);
    const listed = await propfind(app.baseUrl, tenant.customerKey, '/dav/', '1');
    const types = listed.filter((entry) => /evil/.test(entry.href)).map((entry) => entry.prop('getcontenttype'));
    expect(types).toEqual(['text/plain', 'text/plain']);
  });

  it('an HLS playlist uploaded as x.mp4 reads nothing outside the storage: its jobs fail, no output, no foreign bytes (item 4)', async () => {
    const { app, admin, work } = env;
    // a media file of the server's that no tenant owns, and a playlist naming it by its absolute path
    const secret = join(work, 'not-yours.mp4');
    await run('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'testsrc=duration=2:size=160x120:rate=10',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      secret,
    ]);
    const playlist = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n${secret}\n#EXT-X-ENDLIST\n`;
    const concat = `ffconcat version 1.0\nfile '${secret}'\n`;
    const tenant = await makeTenant(admin);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
    const customer = admin.as(tenant.customerKey);
    for (const [name, text] of [
      ['x.mp4', playlist],
      ['y.mp4', concat],
    ]) {
      const file = await customer.upload(tenant.serviceId, name, Buffer.from(text));
      // typed by its name, as every upload was before mime spoofing was closed (and any file typed video/* by mistake)
      await app.dataSource.query(`UPDATE mfile SET mimetype = 'video/mp4' WHERE id = $1`, [file.body.id]);
      const jobs = await Promise.all(
        [{ task: 'transcode', options: { preset: 'h264-480p' } }, { task: 'video-proxy' }, { task: 'video-poster' }, { task: 'video-metadata' }].map(
          async (request) => (await customer.post('/jobs', { mfileIds: [file.body.id], ...request })).body.id as string,
        ),
      );
      const ended = await settled(customer, file.body.id);
      expect(ended.map((job) => job.id).sort()).toEqual([...jobs].sort());
      expect(ended.map((job) => job.state)).toEqual(['failed', 'failed', 'failed', 'failed']);
      for (const job of ended) {
        expect(job.error).toMatch(/is not in a media container MServe reads .*playlists and lists are never read/);
        expect(job.error).not.toContain(work);
        expect((await customer.get(`/jobs/${job.id}/outputs`)).body.items).toEqual([]);
      }
      expect((await customer.get(`/mfiles/${file.body.id}`)).body.metadata?.video).toBeUndefined();
    }
  });

  it('a video of 9000×9000 frames is refused before any frame is decoded (item 16, VIDEO_MAX_PIXELS)', async () => {
    const { admin, work } = env;
    const path = join(work, 'huge.mp4');
    // one grey frame: 240 KB on disk, 81 million pixels once decoded
    await run('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'color=c=gray:s=9000x9000:d=1:r=1',
      '-frames:v',
      '1',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      path,
    ]);
    const tenant = await makeTenant(admin);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
    const customer = admin.as(tenant.customerKey);
    const file = await customer.upload(tenant.serviceId, 'huge.mp4', readFileSync(path));
    expect(file.body.mimetype).toBe('video/mp4');
    for (const task of ['video-metadata', 'video-poster', 'video-proxy', 'transcode'])
      expect((await customer.post('/jobs', { mfileIds: [file.body.id], task })).status).toBe(201);
    const jobs = await settled(customer, file.body.id);
    expect(jobs.map((job) => job.task).sort()).toEqual(['transcode', 'video-metadata', 'video-poster', 'video-proxy']);
    for (const job of jobs) {
      expect([job.task, job.state]).toEqual([job.task, 'failed']);
      expect(job.error).toMatch(/^"huge\.mp4" has (9000×9000 frames|frames of) more pixels than the 35389440 allowed \(VIDEO_MAX_PIXELS\): not decoded$/);
      expect((await customer.get(`/jobs/${job.id}/outputs`)).body.items).toEqual([]);
    }
  });

  // last: its final test shuts the worker down
  describe('ffmpeg stops when its job does (item 3)', () => {
    let clip: Buffer;
    beforeAll(async () => {
      await longClip(join(env.work, 'long.mp4'));
      clip = readFileSync(join(env.work, 'long.mp4'));
    }, 120_000);

    const quietTenant = async () => {
      const tenant = await makeTenant(env.admin);
      await env.admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
      return { tenant, customer: env.admin.as(tenant.customerKey) };
    };
    const transcoding = (customer: Client, id: string) =>
      eventually(
        async () => {
          const job = (await customer.get(`/jobs/${id}`)).body;
          return job.state === 'running' && job.progress > 0 && childrenNamed(env.worker.pid!, 'ffmpeg').length === 1 ? job : undefined;
        },
        'the transcode to be under way, ffmpeg a child of the worker',
        120_000,
        100,
      );
    const usageOf = async (jobId: string) =>
      Object.fromEntries(
        ((await env.app.dataSource.query('SELECT metric, value FROM usage WHERE resource_id = $1', [jobId])) as Array<{ metric: string; value: string }>).map(
          (row) => [row.metric, Number(row.value)],
        ),
      );

    it('a cancelled transcode: ffmpeg is killed, the job stays cancelled, its runtime is metered', async () => {
      const { tenant, customer } = await quietTenant();
      const file = await customer.upload(tenant.serviceId, 'long.mp4', clip);
      const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'transcode', options: { preset: 'vp9-480p' } });
      expect(job.status).toBe(201);
      await transcoding(customer, job.body.id);
      expect((await customer.post(`/jobs/${job.body.id}/cancel`)).body.state).toBe('cancelled');
      // the worker meters the runtime once its attempt has ended, which is after ffmpeg has
      const usage = await eventually(
        async () => {
          const facts = await usageOf(job.body.id);
          return facts.jobruntime > 0 ? facts : undefined;
        },
        'the cancelled job to be metered',
        120_000,
      );
      expect(childrenNamed(env.worker.pid!, 'ffmpeg')).toEqual([]);
      expect(usage).toMatchObject({ jobbytes: clip.length });
      expect(usage['task/transcode/success']).toBeUndefined();
      const after = (await customer.get(`/jobs/${job.body.id}`)).body;
      expect(after).toMatchObject({ state: 'cancelled', error: 'cancelled on request' });
      expect((await customer.get(`/jobs/${job.body.id}/outputs`)).body.items).toEqual([]);
    }, 300_000);

    it('a job over its time limit fails saying so, with ffmpeg killed and its runtime metered', async () => {
      const { tenant, customer } = await quietTenant();
      const file = await customer.upload(tenant.serviceId, 'long.mp4', clip);
      expect((await customer.post('/jobs', { mfileIds: [file.body.id], task: 'transcode', options: { timeoutSeconds: 0 } })).status).toBe(400);
      const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'transcode', options: { preset: 'vp9-480p', timeoutSeconds: 2 } });
      expect(job.status).toBe(201);
      const done = await eventually(
        async () => {
          const current = (await customer.get(`/jobs/${job.body.id}`)).body;
          return FINAL_JOB_STATES.includes(current.state) ? current : undefined;
        },
        'the job to end',
        120_000,
      );
      expect(childrenNamed(env.worker.pid!, 'ffmpeg')).toEqual([]);
      expect(done).toMatchObject({ state: 'failed', error: 'timed out after 2 s (its timeoutSeconds)', attempts: 1 });
      expect((await customer.get(`/jobs/${job.body.id}/outputs`)).body.items).toEqual([]);
      expect((await usageOf(job.body.id)).jobruntime).toBeGreaterThan(0);
    }, 300_000);

    it('a worker shut down mid-transcode kills its ffmpeg before it exits', async () => {
      const { tenant, customer } = await quietTenant();
      const file = await customer.upload(tenant.serviceId, 'long.mp4', clip);
      const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'transcode', options: { preset: 'vp9-480p' } });
      await transcoding(customer, job.body.id);
      const [ffmpeg] = childrenNamed(env.worker.pid!, 'ffmpeg');
      env.worker.kill('SIGTERM');
      expect(await waitForExit(env.worker, 120_000)).toEqual({ code: 0, signal: null });
      const stillFfmpeg = () => {
        try {
          return readFileSync(`/proc/${ffmpeg}/stat`, 'utf8').includes('(ffmpeg)');
        } catch {
          return false;
        }
      };
      expect(stillFfmpeg()).toBe(false);
      // it runs again elsewhere: the attempt was given back
      expect((await customer.get(`/jobs/${job.body.id}`)).body.state).toBe('queued');
    }, 300_000);
  });
});
