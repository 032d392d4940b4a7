import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tus from 'tus-js-client';
import { Client, makeTenant } from '../support/client';
import { freePort } from '../support/free-port';
import { eventually, startRole, waitForExit } from '../support/processes';

const MiB = 1024 * 1024;

/** SIGKILL the api in the middle of a tus upload, start it again, and the client finishes a correct file. */
describe('api killed during an upload', () => {
  const dir = mkdtempSync(join(process.env.VAR_DIR!, 'crash-'));
  const storage = join(dir, 'storage');
  let api: ReturnType<typeof startRole>;
  let port: number;
  const start = async () => {
    api = startRole('main', { PORT: String(port), HOST: '127.0.0.1', STORAGE_DIR: storage, LOG_LEVEL: 'warn' });
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, 'the api to be ready', 60000, 100);
  };

  beforeAll(async () => {
    port = await freePort();
    await start();
  });
  afterAll(async () => {
    if (api.exitCode === null && api.signalCode === null) {
      api.kill('SIGTERM');
      await waitForExit(api);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes after the restart and stores exactly the source bytes', async () => {
    const admin = new Client(`http://127.0.0.1:${port}/api/v1`, process.env.ADMIN_KEY);
    const tenant = await makeTenant(admin);
    const data = randomBytes(64 * MiB);
    const source = join(dir, 'source.bin');
    writeFileSync(source, data);
    let killed = false;
    let mfileId: string | null = null;
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(data, {
        endpoint: `http://127.0.0.1:${port}/api/v1/services/${tenant.serviceId}/uploads`,
        chunkSize: 4 * MiB,
        retryDelays: [1000, 2000, 4000, 8000, 8000, 8000],
        metadata: { filename: 'survivor.bin' },
        headers: { authorization: `Bearer ${tenant.customerKey}` },
        onProgress: (sent, total) => {
          if (!killed && sent > total * 0.4) {
            killed = true;
            api.kill('SIGKILL');
            void waitForExit(api)
              .then(() => start())
              .catch(reject);
          }
        },
        onAfterResponse: (_request, response) => {
          mfileId = response.getHeader('Mfile-Id') ?? mfileId;
        },
        onError: reject,
        onSuccess: () => resolve(),
      });
      upload.start();
    });
    expect(killed).toBe(true);
    const mfile = await admin.as(tenant.customerKey).get(`/mfiles/${mfileId}`);
    expect(mfile.body).toMatchObject({ name: 'survivor.bin', size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    expect(readdirSync(join(storage, 'uploads'))).toEqual([]);
  }, 180_000);
});
