import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { appWithWorker, AppWithWorker, JobRow } from '../support/app-with-worker';
import { Client, makeTenant, uploadAll } from '../support/client';
import { run, testClip } from '../support/media';
import { eventually } from '../support/processes';
import { backupCopy, overwriteBlob, removeBackup, removeBlob } from '../support/storage-files';
import { TestApp } from '../support/test-app';

/** A PNG whose header claims width×height (a decompression bomb's shape) with one tiny compressed row. */
function pngClaiming(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([length, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(1 + width * 3))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('task engine: profiles, pipelines, triggers, outputs (real worker, sharp, ffmpeg)', () => {
  let app: TestApp;
  let admin: Client;
  let worker: AppWithWorker['worker'];
  let work: string;
  const env = appWithWorker('mserve-engine-');
  beforeAll(() => ({ app, admin, worker, work } = env));

  const jobsOf = async (customer: Client, mfileId: string): Promise<Record<string, JobRow>> => {
    const page = await customer.get(`/mfiles/${mfileId}/jobs?limit=100`);
    return Object.fromEntries(page.body.items.map((job: JobRow) => [job.step ?? job.task, job]));
  };
  const allFinal = (customer: Client, serviceId: string, what: string, timeoutMs = 180_000) =>
    eventually(
      async () => {
        const page = await customer.get(`/services/${serviceId}/jobs?limit=500`);
        const open = page.body.items.filter((job: JobRow) => !['succeeded', 'failed', 'cancelled', 'skipped'].includes(job.state));
        return page.body.items.length > 0 && open.length === 0 ? page.body.items : undefined;
      },
      what,
      timeoutMs,
      250,
    );
  const outputBytes = async (customer: Client, jobId: string) => {
    const outputs = await customer.get(`/jobs/${jobId}/outputs`);
    expect(outputs.body.items).toHaveLength(1);
    const response = await fetch(`${app.api}/joboutputs/${outputs.body.items[0].id}/content`, { headers: { authorization: `Bearer ${customer.key}` } });
    expect(response.status).toBe(200);
    return { output: outputs.body.items[0], bytes: Buffer.from(await response.arrayBuffer()) };
  };

  it('runs the default ingest profile on 30 mixed files: every job ends in the right state, outputs have the requested sizes', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const files: Array<{ name: string; bytes: Buffer; kind: string }> = [];
    for (let i = 0; i < 10; i++) {
      const width = 800 + i * 97;
      const height = 600 + i * 41;
      const jpeg = await sharp({ create: { width, height, channels: 3, background: { r: 20 * i, g: 120, b: 200 - 10 * i } } })
        .jpeg()
        .withMetadata(i === 0 ? { orientation: 6 } : {})
        .toBuffer();
      files.push({ name: `photo-${i}.jpg`, bytes: jpeg, kind: i === 0 ? 'rotated' : 'image' });
    }
    for (let i = 0; i < 6; i++) {
      const png = await sharp({ create: { width: 300 + i * 50, height: 200 + i * 30, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } })
        .png()
        .toBuffer();
      files.push({ name: i === 0 ? 'really-a-png.jpg' : `drawing-${i}.png`, bytes: png, kind: 'image' });
    }
    for (let i = 0; i < 6; i++) {
      const path = join(work, `clip-${i}.mp4`);
      await testClip(path, 2, `${320 + i * 16}x240`);
      files.push({ name: `clip-${i}.mp4`, bytes: readFileSync(path), kind: 'video' });
    }
    for (let i = 0; i < 5; i++)
      files.push({ name: i % 2 ? `notes-${i}.txt` : `table-${i}.csv`, bytes: Buffer.from(i % 2 ? `line ${i}\nmore text\n` : 'a,b\n1,2\n'), kind: 'text' });
    const good = files.find((file) => file.kind === 'image')!.bytes;
    files.push({ name: 'broken.jpg', bytes: Buffer.concat([good.subarray(0, 400), Buffer.alloc(2000, 0x55)]), kind: 'corrupt' });
    files.push({ name: 'empty.bin', bytes: Buffer.alloc(0), kind: 'empty' });
    files.push({ name: 'bomb.png', bytes: pngClaiming(30000, 30000), kind: 'bomb' });
    expect(files).toHaveLength(30);

    const stored = await uploadAll(customer, tenant.serviceId, files, 6);
    const uploaded = new Map(files.map((file) => [file.name, { id: stored.get(file.name)!.id, kind: file.kind, name: file.name }]));
    await allFinal(customer, tenant.serviceId, 'every ingest job to finish');
    expect(worker.exitCode).toBeNull();

    const imageSteps = ['image-metadata', 'thumbnail', 'poster'];
    const videoSteps = ['video-metadata', 'video-poster', 'video-proxy'];
    const summary: Record<string, Record<string, string>> = {};
    for (const file of uploaded.values()) {
      const jobs = await jobsOf(customer, file.id);
      summary[file.name] = Object.fromEntries(Object.entries(jobs).map(([step, job]) => [step, job.state]));
      // steps are made only where their condition holds for the upload's type: no job is created only to be skipped
      const expectedSteps = {
        image: imageSteps,
        rotated: imageSteps,
        corrupt: imageSteps,
        bomb: imageSteps,
        video: videoSteps,
        text: [],
        empty: [],
      }[file.kind]!;
      expect([file.name, Object.keys(jobs).sort()]).toEqual([file.name, ['backup', 'md5', 'mime', ...expectedSteps].sort()]);
      expect([file.name, jobs.mime.state, jobs.md5.state, jobs.backup.state]).toEqual([file.name, 'succeeded', 'succeeded', 'succeeded']);
      // the upload's answer named its ingest run and the jobs it made, as they were made (facts already succeeded)
      const answered = stored.get(file.name)!.ingest!;
      expect(Object.values(jobs).every((job) => job.runId === answered.runId)).toBe(true);
      expect(Object.fromEntries(answered.jobs.map((job) => [job.step, job.id]))).toEqual(
        Object.fromEntries(Object.entries(jobs).map(([step, job]) => [step, job.id])),
      );
      expect(
        answered.jobs
          .filter((job) => job.state === 'succeeded')
          .map((job) => job.step)
          .sort(),
      ).toEqual(['backup', 'md5', 'mime']);
      // mime and md5 are facts recorded at commit: what the upload found while streaming, no worker ran them
      expect([file.name, jobs.md5.result, jobs.md5.workerHost, jobs.mime.workerHost]).toEqual([
        file.name,
        {
          md5: createHash('md5')
            .update(files.find((candidate) => candidate.name === file.name)!.bytes)
            .digest('hex'),
          matchesRecorded: true,
        },
        null,
        null,
      ]);
      expect(Object.values(jobs).some((job) => job.state === 'skipped')).toBe(false);
      const expectStates = (steps: string[], state: string) =>
        steps.forEach((step) => expect([file.name, step, jobs[step].state, jobs[step].error]).toEqual([file.name, step, state, expect.anything()]));
      const expectState = (steps: string[], state: string) =>
        steps.forEach((step) => expect([file.name, step, jobs[step].state]).toEqual([file.name, step, state]));
      if (file.kind === 'image' || file.kind === 'rotated') {
        expectState(imageSteps, 'succeeded');
        const { output: thumb, bytes } = await outputBytes(customer, jobs.thumbnail.id);
        const meta = await sharp(bytes).metadata();
        expect(meta.format).toBe('jpeg');
        expect(meta.width! <= 210 && meta.height! <= 128).toBe(true);
        expect(meta.width === 210 || meta.height === 128).toBe(true);
        expect(thumb).toMatchObject({ mimetype: 'image/jpeg', size: bytes.length });
        // the output's own usage: the bytes it stores
        const outputUsage = await customer.get(`/joboutputs/${thumb.id}/usage?bucket=total&metric=disc`);
        expect([file.name, outputUsage.body.resource, outputUsage.body.series[0].total.level]).toEqual([
          file.name,
          { type: 'joboutput', id: thumb.id },
          bytes.length,
        ]);
        // the poster fits 420×256 and is never enlarged: a smaller picture keeps its size
        const poster = await sharp((await outputBytes(customer, jobs.poster.id)).bytes).metadata();
        const original = await sharp(files.find((candidate) => candidate.name === file.name)!.bytes)
          .rotate()
          .metadata();
        const upright =
          (original.orientation ?? 1) >= 5 ? { width: original.height!, height: original.width! } : { width: original.width!, height: original.height! };
        const scale = Math.min(1, 420 / upright.width, 256 / upright.height);
        expect([file.name, poster.width, poster.height]).toEqual([file.name, Math.round(upright.width * scale), Math.round(upright.height * scale)]);
        const mfile = (await customer.get(`/mfiles/${file.id}`)).body;
        expect(mfile.metadata.renditions.thumbnail).toMatchObject({
          jobOutputId: thumb.id,
          url: `/api/v1/joboutputs/${thumb.id}/content`,
          mimetype: 'image/jpeg',
        });
        expect(mfile.metadata.renditions.poster.url).toMatch(/^\/api\/v1\/joboutputs\/.+\/content$/);
        if (file.kind === 'rotated') {
          // EXIF orientation 6: stored 800×600, shown 600×800; the thumbnail is upright (portrait)
          expect(mfile.metadata.image).toMatchObject({ width: 600, height: 800, orientation: 6, format: 'jpeg' });
          expect(meta.height).toBeGreaterThan(meta.width!);
        }
        if (file.name === 'really-a-png.jpg') expect(mfile.mimetype).toBe('image/png');
      } else if (file.kind === 'video') {
        expectState(videoSteps, 'succeeded');
        expect(jobs['video-metadata'].result).toMatchObject({ video: { codec: 'h264', height: 240, fps: 25 } });
        expect(jobs['video-metadata'].result.duration).toBeCloseTo(2, 0);
        const poster = await sharp((await outputBytes(customer, jobs['video-poster'].id)).bytes).metadata();
        expect(poster.format).toBe('jpeg');
        expect(poster.height).toBe(240);
        const proxy = await outputBytes(customer, jobs['video-proxy'].id);
        expect(proxy.output.mimetype).toBe('video/mp4');
        const proxyPath = join(work, `${file.id}.proxy.mp4`);
        writeFileSync(proxyPath, proxy.bytes);
        const probe = JSON.parse(await run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', proxyPath]));
        expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', height: 240 });
        // +faststart: the moov atom comes before the media data
        expect(proxy.bytes.indexOf('moov')).toBeLessThan(proxy.bytes.indexOf('mdat'));
        expect(jobs['video-proxy'].progress).toBe(100);
        const mfile = (await customer.get(`/mfiles/${file.id}`)).body;
        expect(Object.keys(mfile.metadata.renditions).sort()).toEqual(['poster', 'proxy']);
        expect(mfile.metadata.video.video.width).toBeGreaterThanOrEqual(320);
      } else if (file.kind === 'corrupt') {
        expectStates(['thumbnail', 'poster'], 'failed');
        expect(jobs.thumbnail.error).toMatch(/broken\.jpg" is not an image sharp can read/);
      } else if (file.kind === 'bomb') {
        expectStates(['image-metadata', 'thumbnail', 'poster'], 'failed');
        expect(jobs.thumbnail.error).toMatch(/more pixels than the \d+ allowed \(IMAGE_MAX_PIXELS\)/);
      }
    }
    // mime corrected by content, not by name; text formats told apart by extension; empty files stay octet-stream
    const types = Object.fromEntries(
      await Promise.all([...uploaded.values()].map(async (file) => [file.name, (await customer.get(`/mfiles/${file.id}`)).body.mimetype])),
    );
    expect(types).toMatchObject({
      'really-a-png.jpg': 'image/png',
      'table-0.csv': 'text/csv',
      'notes-1.txt': 'text/plain',
      'clip-0.mp4': 'video/mp4',
      'empty.bin': 'application/octet-stream',
    });
    // metering: one `jobs` per job (facts too), an outcome per job, runtime per job a worker ran (every one but the
    // facts: mime and md5, and the backup, whose copy the commit made for these small files with no quota)
    const [{ jobs, runtimes, failures, successes }] = await app.dataSource.query(
      `SELECT count(*) FILTER (WHERE metric = 'jobs')::int AS jobs, count(*) FILTER (WHERE metric = 'jobruntime')::int AS runtimes,
              count(*) FILTER (WHERE metric LIKE 'task/%/failed')::int AS failures,
              count(*) FILTER (WHERE metric LIKE 'task/%/success')::int AS successes FROM usage WHERE service_id = $1`,
      [tenant.serviceId],
    );
    const made = Object.values(summary).flatMap((steps) => Object.values(steps));
    // 10 JPEGs, 6 PNGs, the corrupt JPEG and the bomb: 6 jobs each; 6 videos: 6 each; 5 texts and the empty file: 3 each
    expect(made).toHaveLength(18 * 6 + 6 * 6 + 6 * 3);
    expect(jobs).toBe(made.length);
    expect(runtimes).toBe(made.length - 30 * 3);
    expect(successes).toBe(made.filter((state) => state === 'succeeded').length);
    expect(failures).toBe(
      Object.values(summary)
        .flatMap((steps) => Object.values(steps))
        .filter((state) => state === 'failed').length,
    );
  }, 300_000);

  it('a failed step fails the steps after it, naming it; cancelling a step cancels the steps after it', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    const saved = await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'picture', task: 'thumbnail' },
          { name: 'sum', task: 'md5', after: ['picture'] },
          { name: 'sum2', task: 'sha256', after: ['sum'] },
          { name: 'independent', task: 'sha256' },
        ],
      },
    });
    expect(saved.status).toBe(200);
    const file = await customer.upload(tenant.serviceId, 'words.txt', Buffer.from('not a picture'));
    await allFinal(customer, tenant.serviceId, 'the failing pipeline');
    const jobs = await jobsOf(customer, file.body.id);
    expect(jobs.picture).toMatchObject({ state: 'failed', error: expect.stringContaining('thumbnail accepts image/jpeg') });
    expect(jobs.sum).toMatchObject({ state: 'failed', error: `dependency picture (${jobs.picture.id}) failed` });
    expect(jobs.sum2).toMatchObject({ state: 'failed', error: `dependency picture (${jobs.picture.id}) failed` });
    expect(jobs.independent.state).toBe('succeeded');

    // a first step on a queue nobody serves waits; cancelling it cancels what comes after
    await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'first', task: 'md5', queue: 'hardware.nobody' },
          { name: 'second', task: 'sha256', after: ['first'] },
        ],
      },
    });
    const other = await customer.upload(tenant.serviceId, 'more.txt', Buffer.from('more'));
    const waiting = await jobsOf(customer, other.body.id);
    expect(waiting.first).toMatchObject({ state: 'queued', queue: 'hardware.nobody' });
    expect(waiting.second.state).toBe('waiting');
    expect((await customer.post(`/jobs/${waiting.first.id}/cancel`)).status).toBe(201);
    const after = await jobsOf(customer, other.body.id);
    expect(after.second).toMatchObject({ state: 'cancelled', error: `dependency first (${waiting.first.id}) was cancelled` });
  }, 120_000);

  it('profiles: default on GET, every mistake listed on PUT, only service:update may change them', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    const initial = await customer.get(`/services/${tenant.serviceId}/profile`);
    expect(initial.status).toBe(200);
    expect(initial.body.isDefault).toBe(true);
    expect(initial.body.definition.ingest.steps.map((step: { name: string }) => step.name)).toEqual([
      'mime',
      'md5',
      'image-metadata',
      'thumbnail',
      'poster',
      'video-metadata',
      'video-poster',
      'video-proxy',
      'backup',
    ]);
    expect(initial.body.definition.ingest.steps.find((step: { name: string }) => step.name === 'thumbnail').options).toMatchObject({ width: 210, height: 128 });
    expect((await customer.put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } })).status).toBe(403);

    const bad = await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'a', task: 'nope' },
          { name: 'b', task: 'thumbnail', options: { width: 'big', colour: 'red' }, after: ['c'] },
          { name: 'c', task: 'md5', after: ['b'] },
          { name: 'd', task: 'md5', when: { mimetypes: ['not a glob'], minSize: 10, maxSize: 5 }, queue: 'fast', after: ['ghost'] },
          { name: 'd', task: 'sha256', script: 'rm -rf /' },
        ],
      },
      periodic: { steps: [{ task: 'fixity' }], schedule: 'every day' },
      sometimes: { steps: [] },
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
    const errors: string[] = bad.body.errors;
    for (const expected of [
      /ingest\.steps\[0\]\.task "nope" is not a task/,
      /options\.width must be an integer/,
      /options\.colour is not an option of thumbnail/,
      /the steps form a cycle: (b → c → b|c → b → c)/,
      /when\.mimetypes must be a non-empty array/,
      /minSize is larger than maxSize/,
      /queue "fast" is not normal, priority or hardware/,
      /comes after "ghost", which is not a step/,
      /name "d" is used twice/,
      /script is not a step property/,
      /periodic\.schedule "every day" is not a cron expression/,
      /sometimes is not a trigger/,
    ]) {
      expect([expected.source, errors.some((error) => expected.test(error))]).toEqual([expected.source, true]);
    }

    const good = await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { task: 'mime' },
          { task: 'thumbnail', options: { width: 64, height: 64, format: 'webp' }, when: { mimetypes: ['image/*'], maxSize: 10_000_000 }, after: ['mime'] },
        ],
      },
      periodic: { schedule: '0 3 * * *', steps: [{ task: 'fixity' }] },
    });
    expect(good.status).toBe(200);
    expect(good.body.isDefault).toBe(false);
    expect(good.body.definition.ingest.steps[1]).toEqual({
      name: 'thumbnail',
      task: 'thumbnail',
      options: { width: 64, height: 64, format: 'webp', quality: 80, fit: 'inside' },
      when: { mimetypes: ['image/*'], maxSize: 10_000_000 },
      after: ['mime'],
    });
    const picture = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#336699' } })
      .jpeg()
      .toBuffer();
    const file = await customer.upload(tenant.serviceId, 'small.jpg', picture);
    await allFinal(customer, tenant.serviceId, 'the custom pipeline');
    const jobs = await jobsOf(customer, file.body.id);
    expect(Object.keys(jobs).sort()).toEqual(['mime', 'thumbnail']);
    const thumb = await sharp((await outputBytes(customer, jobs.thumbnail.id)).bytes).metadata();
    expect(thumb).toMatchObject({ format: 'webp', width: 64, height: 48 });
    expect((await serviceAdmin.delete(`/services/${tenant.serviceId}/profile`)).body.isDefault).toBe(true);
  }, 120_000);

  it('replacing content runs the update pipeline; manual jobs validate their options', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const first = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#aa0000' } })
      .jpeg()
      .toBuffer();
    const file = await customer.upload(tenant.serviceId, 'change.jpg', first);
    await allFinal(customer, tenant.serviceId, 'ingest');
    const ingested = (await customer.get(`/mfiles/${file.body.id}`)).body.metadata;
    expect(ingested).toMatchObject({ image: { width: 400, height: 300 }, renditions: { thumbnail: {}, poster: {} }, backup: {} });
    const second = await sharp({ create: { width: 300, height: 600, channels: 3, background: '#00aa00' } })
      .jpeg()
      .toBuffer();
    const replaced = await customer.put(`/mfiles/${file.body.id}/content`, second, { 'content-type': 'image/jpeg' });
    expect(replaced.status).toBe(200);
    // what described the old bytes is gone with them, at once: no 400×300, no old thumbnail, no backup of other bytes
    expect(Object.keys(replaced.body.metadata)).toEqual([]);
    await allFinal(customer, tenant.serviceId, 'update');
    const updates = (await customer.get(`/mfiles/${file.body.id}/jobs?trigger=update`)).body.items;
    expect(updates.map((job: JobRow) => `${job.step}:${job.state}`).sort()).toEqual([
      'backup:succeeded',
      'image-metadata:succeeded',
      'md5:succeeded',
      'mime:succeeded',
      'poster:succeeded',
      'thumbnail:succeeded',
    ]);
    const updated = (await customer.get(`/mfiles/${file.body.id}`)).body;
    expect(updated.metadata).toMatchObject({ image: { width: 300, height: 600 }, backup: { sha256: updated.sha256 } });
    expect(updated.metadata.renditions.thumbnail.jobId).not.toBe(ingested.renditions.thumbnail.jobId);
    const newest = updated.metadata.renditions.thumbnail;
    const thumb = await sharp((await outputBytes(customer, newest.jobId)).bytes).metadata();
    expect(thumb.height).toBe(128); // portrait now: 300×600 inside 210×128 is 64×128
    expect(thumb.width).toBe(64);
    // deleting the job that made the thumbnail takes the file's link to it too; the poster's stays
    expect((await customer.delete(`/jobs/${newest.jobId}`)).status).toBe(204);
    const renditions = (await customer.get(`/mfiles/${file.body.id}`)).body.metadata.renditions;
    expect(renditions.thumbnail).toBeUndefined();
    expect(renditions.poster).toMatchObject({ jobId: updated.metadata.renditions.poster.jobId });
    expect((await customer.get(renditions.poster.url.replace('/api/v1', ''))).status).toBe(200);

    // the profile's manual pipeline, on request
    expect((await customer.post('/jobs', { mfileIds: [file.body.id], pipeline: 'manual' })).status).toBe(409);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, {
      manual: {
        steps: [
          { name: 'check', task: 'fixity' },
          { name: 'small', task: 'thumbnail', options: { width: 32, height: 32 }, after: ['check'] },
        ],
      },
    });
    expect((await customer.post('/jobs', { mfileIds: [file.body.id], pipeline: 'manual', task: 'md5' })).status).toBe(400);
    const run = await customer.post('/jobs', { mfileIds: [file.body.id], pipeline: 'manual' });
    expect(run.status).toBe(201);
    // the answer reads the jobs back after they were dispatched: a fast worker may already have taken `check` (and
    // then released `small`), so the states are those of a run started in this order, not one exact snapshot
    const [check, small] = run.body.items as JobRow[];
    expect([check.step, small.step]).toEqual(['check', 'small']);
    expect(['queued', 'running', 'succeeded']).toContain(check.state);
    expect(check.state === 'succeeded' ? ['waiting', 'queued', 'running', 'succeeded'] : ['waiting']).toContain(small.state);
    await allFinal(customer, tenant.serviceId, 'the manual pipeline');
    const manualJobs = (await customer.get(`/mfiles/${file.body.id}/jobs?trigger=manual`)).body.items;
    expect(manualJobs.map((job: JobRow) => `${job.step}:${job.state}`).sort()).toEqual(['check:succeeded', 'small:succeeded']);

    const bad = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'thumbnail', options: { width: 0, fit: 'stretch' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual(['options.width must be between 8 and 4096', 'options.fit must be one of inside, cover']);
    const manual = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'transcode', options: { preset: 'h264-480p' } });
    expect(manual.status).toBe(201);
    const done = await eventually(async () => {
      const job = (await customer.get(`/jobs/${manual.body.id}`)).body;
      return ['succeeded', 'failed'].includes(job.state) ? job : undefined;
    }, 'the manual transcode');
    expect(done).toMatchObject({ state: 'failed', error: expect.stringContaining('transcode accepts video/*, audio/*; "change.jpg" is image/jpeg') });
  }, 120_000);
  it('streams a job as Server-Sent Events: the job at once, progress as it runs, the final state, then the end', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
    const clip = join(work, 'sse.mp4');
    await testClip(clip, 20);
    const file = await customer.upload(tenant.serviceId, 'sse.mp4', readFileSync(clip));
    const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'video-proxy', options: { height: 360 } });
    const response = await fetch(`${app.api}/jobs/${job.body.id}/events`, { headers: { authorization: `Bearer ${tenant.customerKey}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await response.text(); // the server ends the stream after the final state
    const events = text
      .split('\n\n')
      .filter((block) => block.startsWith('event:'))
      .map((block) => {
        const [eventLine, dataLine] = block.split('\n');
        return { event: eventLine.slice('event: '.length), data: JSON.parse(dataLine.slice('data: '.length)) };
      });
    expect(events[0]).toMatchObject({ event: 'state', data: { id: job.body.id, task: 'video-proxy', mfileIds: [file.body.id] } });
    expect(events.at(-1)).toMatchObject({ event: 'state', data: { state: 'succeeded', progress: 100 } });
    const states = events.filter((event) => event.event === 'state').map((event) => event.data.state);
    expect(states).toContain('running');
    const progress = events.filter((event) => event.event === 'progress').map((event) => event.data.progress);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.every((value) => value >= 0 && value <= 100)).toBe(true);
    // a finished job: one state event and the end
    const again = await (await fetch(`${app.api}/jobs/${job.body.id}/events`, { headers: { authorization: `Bearer ${tenant.customerKey}` } })).text();
    expect(again.match(/^event: /gm)).toHaveLength(1);
    expect(again).toContain('"state":"succeeded"');
  }, 120_000);
  it("streams every job of a service as Server-Sent Events, none of another's; lists jobs newest first with a cursor", async () => {
    const tenant = await makeTenant(admin);
    const other = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    for (const each of [tenant, other])
      await admin.as(each.serviceAdminKey).put(`/services/${each.serviceId}/profile`, {
        ingest: {
          steps: [
            { name: 'mime', task: 'mime' },
            { name: 'md5', task: 'md5', after: ['mime'] },
          ],
        },
      });
    const abort = new AbortController();
    const response = await fetch(`${app.api}/services/${tenant.serviceId}/jobs/events`, {
      headers: { authorization: `Bearer ${tenant.customerKey}` },
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    const events: Array<{ event: string; data: any }> = [];
    const next = async (until: () => boolean, what: string) => {
      const deadline = Date.now() + 60_000;
      while (!until()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before ${what}`);
        buffered += decoder.decode(value, { stream: true });
        const blocks = buffered.split('\n\n');
        buffered = blocks.pop()!;
        for (const block of blocks.filter((each) => each.startsWith('event:'))) {
          const [eventLine, dataLine] = block.split('\n');
          events.push({ event: eventLine.slice('event: '.length), data: JSON.parse(dataLine.slice('data: '.length)) });
        }
      }
    };
    await next(() => events.some((event) => event.event === 'ready'), 'ready');
    expect(events[0]).toEqual({ event: 'ready', data: { serviceId: tenant.serviceId } });
    await admin.as(other.customerKey).upload(other.serviceId, 'elsewhere.txt', Buffer.from('not ours'));
    const files = await Promise.all(['a.txt', 'b.txt'].map((name) => customer.upload(tenant.serviceId, name, Buffer.from(`file ${name}`))));
    const ours = (await customer.get(`/services/${tenant.serviceId}/jobs?limit=100`)).body.items.map((job: JobRow) => job.id);
    expect(ours).toHaveLength(4);
    const finished = () =>
      ours.every((id: string) => events.some((event) => event.event === 'job' && event.data.id === id && event.data.state === 'succeeded'));
    await next(finished, 'all four jobs to succeed');
    abort.abort();
    const seen = new Set(events.filter((event) => event.event === 'job').map((event) => event.data.id));
    expect([...seen].every((id) => ours.includes(id))).toBe(true);
    expect(
      events.filter((event) => event.event === 'job').every((event) => typeof event.data.at === 'string' && 'progress' in event.data && 'error' in event.data),
    ).toBe(true);
    expect(files.every((file) => file.status === 201)).toBe(true);

    // newest first, a page at a time
    const first = await customer.get(`/services/${tenant.serviceId}/jobs?order=newest&limit=3`);
    const second = await customer.get(`/services/${tenant.serviceId}/jobs?order=newest&limit=3&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect([...first.body.items, ...second.body.items].map((job: JobRow) => job.id)).toEqual([...ours].reverse());
    expect(second.body.nextCursor).toBeNull();
    // each with its file, named for a key that may read files, only by id for one that may not
    const named = first.body.items.find((job: JobRow & { mfileIds: string[] }) => job.mfileIds[0] === files[1].body.id);
    expect(named).toMatchObject({ mfileIds: [files[1].body.id], inputs: [{ id: files[1].body.id, name: 'b.txt' }] });
    const jobsOnly = (await customer.post('/keys', { actions: ['job:read'] })).body.key;
    const unnamed = (await admin.as(jobsOnly).get(`/services/${tenant.serviceId}/jobs?order=newest&limit=1`)).body.items[0];
    expect(unnamed.mfileIds).toHaveLength(1);
    expect(unnamed.inputs).toBeUndefined();
    expect((await customer.get(`/services/${tenant.serviceId}/jobs?order=sideways`)).status).toBe(400);
    // a key for one file cannot follow the whole service
    const fileKey = (await customer.post('/keys', { resource: { type: 'mfile', id: files[0].body.id }, roles: ['mfileowner'] })).body.key;
    const refused = await fetch(`${app.api}/services/${tenant.serviceId}/jobs/events`, { headers: { authorization: `Bearer ${fileKey}` } });
    expect([403, 404]).toContain(refused.status);
    await refused.text();
  }, 120_000);
  it('backup keeps a verified copy; fixity finds corruption and restores from it; without a copy it is data loss', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const original = Buffer.from('precious bytes '.repeat(1000));
    const file = await customer.upload(tenant.serviceId, 'precious.txt', original);
    await allFinal(customer, tenant.serviceId, 'ingest with backup');
    const backup = (await jobsOf(customer, file.body.id)).backup;
    expect(backup).toMatchObject({ state: 'succeeded', result: { sha256: file.body.sha256, size: original.length, created: true } });
    expect((await backupCopy(app.config, file.body.sha256))?.equals(original)).toBe(true);
    const blobKey = async (): Promise<string> => (await app.dataSource.query('SELECT blob_key FROM mfile WHERE id = $1', [file.body.id]))[0].blob_key;
    const runTask = async (task: string) => {
      const job = await customer.post('/jobs', { mfileIds: [file.body.id], task });
      return eventually(async () => {
        const current = (await customer.get(`/jobs/${job.body.id}`)).body;
        return ['succeeded', 'failed'].includes(current.state) ? current : undefined;
      }, task);
    };
    const content = async () =>
      Buffer.from(
        await (await fetch(`${app.api}/mfiles/${file.body.id}/content`, { headers: { authorization: `Bearer ${tenant.customerKey}` } })).arrayBuffer(),
      );
    const metered = async (metric: string) =>
      (await app.dataSource.query('SELECT count(*)::int AS n FROM usage WHERE resource_id = $1 AND metric = $2', [file.body.id, metric]))[0].n;

    // bit rot on the stored copy: found, metered, restored from the backup
    await overwriteBlob(app.config, await blobKey(), Buffer.from('rotten'));
    const fixed = await runTask('fixity');
    expect(fixed).toMatchObject({ state: 'succeeded', result: { ok: false, restored: true, size: 6 } });
    expect((await content()).equals(original)).toBe(true);
    expect(await metered('corruption')).toBe(1);
    expect((await runTask('fixity')).result).toMatchObject({ ok: true, restored: false });

    // retrieve on demand: the stored file deleted, brought back
    await removeBlob(app.config, await blobKey());
    expect(await runTask('retrieve')).toMatchObject({ state: 'succeeded', result: { storedWasDamaged: true, size: original.length } });
    expect((await content()).equals(original)).toBe(true);

    // no backup copy left: corruption is data loss, the job fails and says so
    await removeBackup(app.config, file.body.sha256);
    await overwriteBlob(app.config, await blobKey(), Buffer.from('rotten again'));
    const lost = await runTask('fixity');
    expect(lost).toMatchObject({ state: 'failed', error: expect.stringContaining('no backup to restore them from') });
    expect(await metered('dataloss')).toBe(1);
    expect(await metered('corruption')).toBe(2);
  }, 120_000);

  it('a backup copy is metered as disc with its metadata when it fits, and fails naming the disk quota when it does not', async () => {
    const backupDisc = (mfileId: string) =>
      app.dataSource
        .query(
          `SELECT count(*)::int AS n, COALESCE(sum(value), 0)::float AS bytes FROM usage WHERE resource_id = $1 AND metric = 'disc' AND resource_type = 'backup'`,
          [mfileId],
        )
        .then((rows: Array<{ n: number; bytes: number }>) => rows[0]);
    const ranOnWorker = async (jobId: string) =>
      (await app.dataSource.query(`SELECT count(*)::int AS n FROM usage WHERE resource_id = $1 AND metric = 'jobruntime'`, [jobId]))[0].n === 1;
    // no quota, a small file: the commit made the verified copy; the backup step is a fact (no worker ran it) with
    // its result, the file's backup metadata and the copy's disc, all in the upload's statement
    const free = await makeTenant(admin);
    const freeCustomer = admin.as(free.customerKey);
    const kept = await freeCustomer.upload(free.serviceId, 'kept.txt', Buffer.from('kept bytes\n'.repeat(100)));
    expect(kept.body.metadata.backup).toMatchObject({ sha256: kept.body.sha256 });
    expect((await backupCopy(app.config, kept.body.sha256))?.length).toBe(1100);
    await allFinal(freeCustomer, free.serviceId, 'ingest without a quota');
    const keptBackup = (await jobsOf(freeCustomer, kept.body.id)).backup;
    expect(keptBackup).toMatchObject({ state: 'succeeded', workerHost: null, result: { created: true, size: 1100 } });
    expect(await ranOnWorker(keptBackup.id)).toBe(false);
    expect((await freeCustomer.get(`/mfiles/${kept.body.id}`)).body.metadata.backup).toMatchObject({ sha256: kept.body.sha256 });
    expect(await backupDisc(kept.body.id)).toEqual({ n: 1, bytes: 1100 });
    // the same bytes again: the copy is there already, nothing new on disk
    const twin = await freeCustomer.upload(free.serviceId, 'twin.txt', Buffer.from('kept bytes\n'.repeat(100)));
    expect((await jobsOf(freeCustomer, twin.body.id)).backup).toMatchObject({ state: 'succeeded', result: { created: false, size: 1100 } });
    expect(await backupDisc(twin.body.id)).toEqual({ n: 0, bytes: 0 });
    // a commit that fails (the name is taken) stores no file and meters nothing; the copy made for it stays (copies
    // are kept once per content: another upload of the same bytes may already count on it), and one another file
    // holds is never touched
    const clash = Buffer.from('other bytes\n'.repeat(100));
    const clashSha = createHash('sha256').update(clash).digest('hex');
    expect((await freeCustomer.upload(free.serviceId, 'kept.txt', clash)).status).toBe(409);
    expect(await backupCopy(app.config, clashSha)).toBeDefined();
    expect((await freeCustomer.upload(free.serviceId, 'kept.txt', Buffer.from('kept bytes\n'.repeat(100)))).status).toBe(409);
    expect(await backupCopy(app.config, kept.body.sha256)).toBeDefined();
    expect((await freeCustomer.get(`/services/${free.serviceId}/mfiles?name=kept.txt`)).body.items).toHaveLength(1);
    // a large file: the copy is the worker's job, as before
    const large = await freeCustomer.upload(free.serviceId, 'large.bin', Buffer.alloc(300 * 1024, 7));
    expect(large.body.metadata.backup).toBeUndefined();
    await allFinal(freeCustomer, free.serviceId, 'a large file without a quota');
    const largeBackup = (await jobsOf(freeCustomer, large.body.id)).backup;
    expect(largeBackup).toMatchObject({ state: 'succeeded', workerHost: expect.any(String), result: { created: true, size: 300 * 1024 } });
    expect(await ranOnWorker(largeBackup.id)).toBe(true);
    expect(await backupDisc(large.body.id)).toEqual({ n: 1, bytes: 300 * 1024 });
    // the service's backup disc: the two copies its files hold, nothing for the refused commits
    const [serviceBackups] = await app.dataSource.query(
      `SELECT COALESCE(sum(value), 0)::float AS bytes FROM usage WHERE service_id = $1 AND metric = 'disc' AND resource_type = 'backup'`,
      [free.serviceId],
    );
    expect(serviceBackups.bytes).toBe(1100 + 300 * 1024);

    // a disk quota the file fits in but not its copy: no copy at commit; the backup job fails saying so, and nothing
    // of it is recorded
    const tight = await makeTenant(admin);
    expect((await admin.patch(`/services/${tight.serviceId}`, { diskQuota: 1500 })).status).toBe(200);
    const tightCustomer = admin.as(tight.customerKey);
    const refused = await tightCustomer.upload(tight.serviceId, 'refused.txt', Buffer.from('tight bytes\n'.repeat(100)));
    expect(refused.status).toBe(201);
    await allFinal(tightCustomer, tight.serviceId, 'ingest under a tight quota');
    const backup = (await jobsOf(tightCustomer, refused.body.id)).backup;
    expect(backup).toMatchObject({ state: 'failed', error: expect.stringMatching(/disk quota/) });
    expect((await tightCustomer.get(`/mfiles/${refused.body.id}`)).body.metadata.backup).toBeUndefined();
    expect(await backupDisc(refused.body.id)).toEqual({ n: 0, bytes: 0 });
  }, 120_000);
});
