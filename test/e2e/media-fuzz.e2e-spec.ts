import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { appWithWorker, FINAL_JOB_STATES, JobRow } from '../support/app-with-worker';
import { makeTenant, Reply, uploadAll } from '../support/client';
import { run, testClip } from '../support/media';
import { eventually } from '../support/processes';
import { fuzzSeed, Rng } from '../support/rng';

/**
 * A seeded fuzz run of the ingest pipeline: real media (JPEG with EXIF, PNG, WebP, GIF, TIFF, SVG, MP4, WAV) mutated
 * — bits flipped, cut short, bytes inserted, zeroed, duplicated, spliced with another file, a real header on
 * random bytes — uploaded to a service with the default profile and run by a real worker (sharp in process, ffprobe
 * and ffmpeg as children). Every job must end (succeeded, failed, skipped), every failure must say why, what
 * succeeded must have made outputs that open, and the worker must still be the same living process afterwards: a
 * crashing task fails its job, not the worker.
 *
 * Reproduce a run with MEDIA_FUZZ_SEED=<seed printed in the log>; MEDIA_FUZZ_FILES changes the count (default 40).
 */
const SEED = fuzzSeed(process.env.MEDIA_FUZZ_SEED);
const FILES = Number(process.env.MEDIA_FUZZ_FILES ?? 40);

type Mutation = (bytes: Buffer, rng: Rng, other: Buffer) => Buffer;
const MUTATIONS: Record<string, Mutation> = {
  flipBits: (bytes, rng) => {
    const out = Buffer.from(bytes);
    for (let n = 1 + rng.int(20); n > 0; n--) {
      const at = rng.int(out.length);
      out[at] ^= 1 << rng.int(8);
    }
    return out;
  },
  flipHeader: (bytes, rng) => {
    const out = Buffer.from(bytes);
    for (let n = 1 + rng.int(4); n > 0; n--) out[rng.int(Math.min(out.length, 256))] = rng.int(256);
    return out;
  },
  truncate: (bytes, rng) => bytes.subarray(0, rng.int(bytes.length)),
  insert: (bytes, rng) => {
    const at = rng.int(bytes.length);
    return Buffer.concat([bytes.subarray(0, at), rng.bytes(1 + rng.int(4096)), bytes.subarray(at)]);
  },
  zeroRun: (bytes, rng) => {
    const out = Buffer.from(bytes);
    const at = rng.int(out.length);
    out.fill(0, at, Math.min(out.length, at + 1 + rng.int(8192)));
    return out;
  },
  ffRun: (bytes, rng) => {
    const out = Buffer.from(bytes);
    const at = rng.int(out.length);
    out.fill(0xff, at, Math.min(out.length, at + 1 + rng.int(8192)));
    return out;
  },
  duplicate: (bytes, rng) => {
    const from = rng.int(bytes.length);
    const piece = bytes.subarray(from, from + 1 + rng.int(16_384));
    const at = rng.int(bytes.length);
    return Buffer.concat([bytes.subarray(0, at), piece, piece, bytes.subarray(at)]);
  },
  splice: (bytes, rng, other) => Buffer.concat([bytes.subarray(0, rng.int(bytes.length)), other.subarray(rng.int(other.length))]),
  headerOnRandom: (bytes, rng) => Buffer.concat([bytes.subarray(0, 16 + rng.int(256)), rng.bytes(rng.int(20_000))]),
  repeatTail: (bytes, rng) => Buffer.concat([bytes, bytes.subarray(rng.int(bytes.length))]),
};
const MUTATION_NAMES = Object.keys(MUTATIONS);

describe(`media fuzz (seed ${SEED}, ${FILES} files)`, () => {
  const env = appWithWorker('mserve-media-fuzz-');

  it('ends every job of mutated media with a state and a reason, and the worker survives them all', async () => {
    const { app, admin, worker, work } = env;
    console.log(`media fuzz: seed ${SEED} (reproduce with MEDIA_FUZZ_SEED=${SEED}), ${FILES} files`);
    const rng = new Rng(SEED);
    const picture = sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 200, g: 80, b: 40 } } }).composite([
      {
        input: Buffer.from('<svg width="320" height="240"><circle cx="160" cy="120" r="90" fill="#2a6"/><text x="20" y="40" font-size="30">fuzz</text></svg>'),
        top: 0,
        left: 0,
      },
    ]);
    const clip = join(work, 'clip.mp4');
    const sound = join(work, 'tone.wav');
    await testClip(clip, 1, '160x120');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', sound]);
    const seeds: Array<{ name: string; bytes: Buffer }> = [
      {
        name: 'photo.jpg',
        bytes: await picture
          .clone()
          .jpeg({ quality: 80 })
          .withMetadata({ orientation: 6, exif: { IFD0: { Artist: 'fuzz', ImageDescription: 'seed picture' } } })
          .toBuffer(),
      },
      { name: 'drawing.png', bytes: await picture.clone().png().toBuffer() },
      { name: 'picture.webp', bytes: await picture.clone().webp().toBuffer() },
      { name: 'anim.gif', bytes: await picture.clone().gif().toBuffer() },
      { name: 'scan.tiff', bytes: await picture.clone().tiff().toBuffer() },
      {
        name: 'vector.svg',
        bytes: Buffer.from(
          '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100" fill="#36c"/><text x="10" y="60" font-size="40">MServe</text></svg>',
        ),
      },
      { name: 'clip.mp4', bytes: readFileSync(clip) },
      { name: 'tone.wav', bytes: readFileSync(sound) },
    ];
    const files = Array.from({ length: FILES }, (_, n) => {
      const seed = rng.pick(seeds);
      const other = rng.pick(seeds).bytes;
      const applied: string[] = [];
      let bytes = seed.bytes;
      for (let k = 1 + rng.int(2); k > 0; k--) {
        const name = rng.pick(MUTATION_NAMES);
        applied.push(name);
        bytes = MUTATIONS[name](bytes, rng, other);
      }
      return { name: `${String(n).padStart(3, '0')}-${applied.join('+')}-${seed.name}`, bytes };
    });

    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const stored = await uploadAll(customer, tenant.serviceId, files, 4);
    const uploaded = new Map([...stored].map(([name, mfile]) => [mfile.id, name]));
    const workerPid = worker.pid;
    const jobs = await eventually(
      async () => {
        const items: JobRow[] = [];
        for (let cursor: string | null = '', first = true; first || cursor; first = false) {
          const page: Reply<{ items: JobRow[]; nextCursor: string | null }> = await customer.get(
            `/services/${tenant.serviceId}/jobs?limit=500${cursor ? `&cursor=${cursor}` : ''}`,
          );
          items.push(...page.body.items);
          cursor = page.body.nextCursor;
        }
        return items.length > 0 && items.every((job) => FINAL_JOB_STATES.includes(job.state)) && new Set(items.flatMap((job) => job.mfileIds)).size === FILES
          ? items
          : undefined;
      },
      'every ingest job of the mutated files to end',
      600_000,
      500,
    );

    const byState: Record<string, number> = {};
    for (const job of jobs) byState[`${job.step ?? job.task}:${job.state}`] = (byState[`${job.step ?? job.task}:${job.state}`] ?? 0) + 1;
    const reasons = [...new Set(jobs.filter((job) => job.state === 'failed').map((job) => `${job.step ?? job.task}: ${job.error}`))];
    console.log(
      `media fuzz seed ${SEED}: ${jobs.length} jobs\n${JSON.stringify(byState, null, 1)}\nwhy they failed (distinct):\n${reasons.slice(0, 40).join('\n')}`,
    );
    // every failure says why, in words — not a bare stack, "undefined", the tools' banners or where the server stores
    // files (the storage folder is the server's, not the customer's to see)
    const unexplained = jobs.filter(
      (job) =>
        job.state === 'failed' &&
        (!job.error ||
          job.error.length < 10 ||
          /^(undefined|null|Error)$|^\s*at |libav|libpostproc|configuration:| @ 0x/m.test(job.error) ||
          job.error.includes(app.config.storageDir)),
    );
    expect(unexplained.map((job) => `${uploaded.get(job.mfileIds[0])} ${job.step ?? job.task}: ${JSON.stringify(job.error)}`)).toEqual([]);
    // the checksum and mime steps never depend on the bytes making sense
    const basic = jobs.filter((job) => ['md5', 'mime', 'backup'].includes(job.step ?? job.task) && job.state !== 'succeeded');
    expect(basic.map((job) => `${uploaded.get(job.mfileIds[0])} ${job.step}: ${job.state} ${job.error}`)).toEqual([]);
    // what a task made from a mutated file opens as what it claims to be
    for (const job of jobs.filter(
      (candidate) => candidate.state === 'succeeded' && ['thumbnail', 'poster', 'video-poster'].includes(candidate.step ?? candidate.task),
    )) {
      const outputs = await customer.get(`/jobs/${job.id}/outputs`);
      for (const output of outputs.body.items) {
        const bytes = Buffer.from(
          await (await fetch(`${app.api}/joboutputs/${output.id}/content`, { headers: { authorization: `Bearer ${customer.key}` } })).arrayBuffer(),
        );
        const meta = await sharp(bytes).metadata();
        expect([uploaded.get(job.mfileIds[0]), job.step, meta.width! > 0 && meta.height! > 0]).toEqual([uploaded.get(job.mfileIds[0]), job.step, true]);
      }
    }
    // the same worker process ran them all and still serves: a new, good file goes through
    expect([worker.pid, worker.exitCode, worker.signalCode]).toEqual([workerPid, null, null]);
    const good = await customer.upload(tenant.serviceId, 'after-fuzz.png', await picture.clone().png().toBuffer());
    expect(good.status).toBe(201);
    const after = await eventually(
      async () => {
        const page = await customer.get(`/mfiles/${good.body.id}/jobs?limit=100`);
        return page.body.items.length > 0 && page.body.items.every((job: JobRow) => FINAL_JOB_STATES.includes(job.state))
          ? (page.body.items as JobRow[])
          : undefined;
      },
      'the good file after the fuzz',
      120_000,
      250,
    );
    expect(after.find((job) => job.step === 'thumbnail')?.state).toBe('succeeded');
  }, 900_000);
});
