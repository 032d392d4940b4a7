import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client, makeTenant } from '../support/client';
import { freePort } from '../support/free-port';
import { eventually, startRole, waitForExit } from '../support/processes';

const SIZE = 1024 ** 3;

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Fast incompressible bytes: AES-CTR keystream over zeros. */
function randomStream(size: number): Readable {
  const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return this.push(null);
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

/**
 * A 1 GiB upload to a real api process: memory stays flat (bytes are streamed, never buffered) and the stored
 * digests equal what md5sum and sha256sum say about the source.
 */
describe('1 GiB upload', () => {
  const dir = mkdtempSync(join(process.env.VAR_DIR!, 'large-'));
  const source = join(dir, 'source.bin');
  let api: ReturnType<typeof startRole>;
  let base: string;

  beforeAll(async () => {
    await pipeline(randomStream(SIZE), createWriteStream(source));
    const port = await freePort();
    api = startRole('main', { PORT: String(port), HOST: '127.0.0.1', STORAGE_DIR: join(dir, 'storage'), LOG_LEVEL: 'warn' });
    base = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${base}/health/ready`)).ok, 'the api to be ready', 60000, 200);
  });
  afterAll(async () => {
    if (api.exitCode === null) {
      api.kill('SIGTERM');
      await waitForExit(api);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams to disk with flat memory and the same md5/sha256 as md5sum/sha256sum', async () => {
    const admin = new Client(`${base}/api/v1`, process.env.ADMIN_KEY);
    const tenant = await makeTenant(admin);
    // warm up the code paths once, then take the baseline
    await admin.as(tenant.customerKey).upload(tenant.serviceId, 'warmup.bin', new Uint8Array(1024 * 1024));
    const before = rssBytes(api.pid!);
    let peak = before;
    const samples: number[] = [];
    let tick = 0;
    const sampler = setInterval(() => {
      const now = rssBytes(api.pid!);
      peak = Math.max(peak, now);
      if (tick++ % 10 === 0) samples.push(Math.round(now / 1024 ** 2));
    }, 50);
    const reply = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const request = httpRequest(`${base}/api/v1/services/${tenant.serviceId}/mfiles?name=big.bin`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.customerKey}`, 'content-type': 'application/octet-stream', 'content-length': String(SIZE) },
      });
      request.on('response', (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
      });
      request.on('error', reject);
      createReadStream(source).pipe(request);
    });
    clearInterval(sampler);
    const growthMiB = (peak - before) / 1024 ** 2;
    process.stdout.write(
      `1 GiB upload: api RSS before ${(before / 1024 ** 2).toFixed(1)} MiB, peak ${(peak / 1024 ** 2).toFixed(1)} MiB, growth ${growthMiB.toFixed(1)} MiB; samples ${samples.join(' ')}\n`,
    );
    expect(reply.status).toBe(201);
    expect(reply.body.size).toBe(SIZE);
    const md5sum = execFileSync('md5sum', [source], { encoding: 'utf8' }).split(' ')[0];
    const sha256sum = execFileSync('sha256sum', [source], { encoding: 'utf8' }).split(' ')[0];
    expect(reply.body.md5).toBe(md5sum);
    expect(reply.body.sha256).toBe(sha256sum);
    // Flat means bounded, not proportional to the file: V8 frees the 64 KiB socket buffers lazily, so RSS rises
    // once by a few dozen MiB of garbage and then stays level however long the upload runs.
    expect(growthMiB).toBeLessThan(128);
    const half = Math.floor(samples.length / 2);
    expect(Math.max(...samples.slice(half))).toBeLessThanOrEqual(Math.max(...samples.slice(0, half)) + 16);

    // and back: the download streams the same bytes
    const download = await fetch(`${base}/api/v1/mfiles/${reply.body.id}/content`, { headers: { authorization: `Bearer ${tenant.customerKey}` } });
    const hash = createHash('sha256');
    for await (const chunk of download.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
    expect(hash.digest('hex')).toBe(sha256sum);
    expect(statSync(source).size).toBe(SIZE);
  });
});
