import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { AppConfig } from '../config/config';
import { Mfile } from '../mfiles/mfile.entity';
import { ContentStore } from '../storage/content-store';
import { ImageHandlers, sharedScale } from './image.handlers';
import { SharedInput } from './shared-input';
import { TaskContext } from './task-handler.decorator';
import { TaskName } from './task-catalogue';

describe('image renditions of one batch', () => {
  let root: string;
  let store: ContentStore;
  let handlers: ImageHandlers;
  let input: Mfile;
  let reads: number;

  /** A 1200×800 picture stored rotated (EXIF orientation 6: shown as 800×1200). */
  const picture = () =>
    sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 30, g: 140, b: 90 } } })
      .composite([
        { input: Buffer.from('<svg width="400" height="300"><rect x="20" y="30" width="300" height="200" fill="orange"/></svg>'), top: 80, left: 120 },
      ])
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 85 })
      .toBuffer();

  const options = (task: TaskName.Thumbnail | TaskName.Poster, width: number, height: number, fit: 'inside' | 'cover' = 'inside') => ({
    task,
    options: { width, height, fit, format: 'jpeg' as const, quality: 80 },
  });

  type Made = { result: { width: number; height: number; size: number }; outputs: Array<{ blob: { blobKey: string } }> };
  const run = async (step: ReturnType<typeof options>, shared?: SharedInput): Promise<Made> => {
    const context = {
      jobId: 'j',
      serviceId: input.serviceId,
      containerId: input.containerId,
      inputs: [input],
      options: step.options,
      signal: new AbortController().signal,
      reportProgress: async () => undefined,
      shared,
    };
    const outcome = step.task === TaskName.Thumbnail ? await handlers.thumbnail(context) : await handlers.poster(context as TaskContext<TaskName.Poster>);
    if (outcome.status !== 'succeeded') throw new Error(outcome.error);
    return outcome as unknown as Made;
  };

  const sharedFor = (steps: Array<ReturnType<typeof options>>) =>
    new SharedInput(
      input.id,
      async () => {
        reads++;
        return readFileSync(store.pathOf(input.blobKey));
      },
      steps,
    );

  const bytesOf = (outcome: Made) => readFileSync(store.pathOf(outcome.outputs[0].blob.blobKey));

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'mserve-image-spec-'));
    store = new ContentStore(root);
    await store.init();
    handlers = new ImageHandlers(store, { imageMaxPixels: 50_000_000 } as AppConfig);
    const blob = await store.storeBuffer(await picture());
    input = { id: 'm1', name: 'turned.jpg', blobKey: blob.blobKey, size: blob.size, mimetype: 'image/jpeg' } as Mfile;
  });
  beforeEach(() => (reads = 0));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('the shared scale is the largest a rendition needs: inside fits the box, cover fills it, never above 1', () => {
    expect(sharedScale(800, 1200, [options(TaskName.Thumbnail, 210, 128).options, options(TaskName.Poster, 420, 256).options])).toBeCloseTo(256 / 1200);
    expect(sharedScale(800, 1200, [options(TaskName.Thumbnail, 210, 128, 'cover').options])).toBeCloseTo(210 / 800);
    expect(sharedScale(100, 50, [options(TaskName.Poster, 420, 256).options])).toBe(1);
  });

  it('two renditions of one batch: one read, one decode, oriented, each the size a lone job makes, the same picture', async () => {
    const steps = [options(TaskName.Thumbnail, 210, 128), options(TaskName.Poster, 420, 256), options(TaskName.Poster, 200, 200, 'cover')];
    const shared = sharedFor(steps);
    const batched = await Promise.all(steps.map((step) => run(step, shared)));
    const lone = await Promise.all(steps.map((step) => run(step)));
    expect(reads).toBe(1);
    // decoded once, at the scale the largest need asks (cover 200×200 of 800×1200: 200×300), then shrunk by each step
    const decoded = (await shared.memo('decoded-once', () => undefined)) as { raw: object } | undefined;
    expect(decoded?.raw).toEqual({ width: 200, height: 300, channels: 3 });
    expect(bytesOf(batched[0]).equals(bytesOf(lone[0]))).toBe(false);
    expect(batched.map((outcome) => [outcome.result.width, outcome.result.height])).toEqual([
      [85, 128],
      [171, 256],
      [200, 200],
    ]);
    expect(batched.map((outcome) => outcome.result)).toEqual(lone.map((outcome) => ({ ...outcome.result, size: expect.any(Number) })));
    for (let i = 0; i < steps.length; i++) {
      const [a, b] = await Promise.all([bytesOf(batched[i]), bytesOf(lone[i])].map((bytes) => sharp(bytes).raw().toBuffer()));
      expect(a.length).toBe(b.length);
      let difference = 0;
      for (let k = 0; k < a.length; k++) difference += Math.abs(a[k] - b[k]);
      expect(difference / a.length).toBeLessThan(3);
    }
  });

  it('a rendition alone, or one no smaller than the picture, opens the input as a lone job does: the same bytes', async () => {
    const alone = [options(TaskName.Thumbnail, 210, 128)];
    expect(bytesOf(await run(alone[0], sharedFor(alone))).equals(bytesOf(await run(alone[0])))).toBe(true);
    const large = [options(TaskName.Thumbnail, 2000, 2000), options(TaskName.Poster, 1600, 1600)];
    const shared = sharedFor(large);
    for (const step of large) expect(bytesOf(await run(step, shared)).equals(bytesOf(await run(step)))).toBe(true);
  });

  it('a file that is not a picture fails every step of the batch with the reason, as a lone job does', async () => {
    const broken = await store.storeBuffer(Buffer.from('not a picture at all'));
    const notPicture = { ...input, id: 'm2', name: 'notes.jpg', blobKey: broken.blobKey, size: broken.size };
    const steps = [options(TaskName.Thumbnail, 210, 128), options(TaskName.Poster, 420, 256)];
    const shared = new SharedInput(notPicture.id, async () => readFileSync(store.pathOf(broken.blobKey)), steps);
    for (const step of steps)
      await expect(
        handlers.thumbnail({
          jobId: 'j',
          serviceId: notPicture.serviceId,
          containerId: notPicture.containerId,
          inputs: [notPicture],
          options: step.options,
          signal: new AbortController().signal,
          reportProgress: async () => undefined,
          shared,
        }),
      ).rejects.toThrow(/"notes.jpg" is not an image sharp can read/);
  });
});
