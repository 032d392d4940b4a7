import { Inject, Injectable } from '@nestjs/common';
import { availableParallelism } from 'node:os';
import { parse } from 'node:path';
import sharp from 'sharp';
import { APP_CONFIG, AppConfig } from '../config/config';
import { JsonObject } from '../database/columns';
import { Mfile } from '../mfiles/mfile.entity';
import { BlobStore } from '../storage/blob-store';
import { ImageFormat, TaskName, TaskTypes } from './task-catalogue';
import { TaskContext, TaskFailure, TaskHandler, TaskOutcome } from './task-handler.decorator';
import { SharedInput } from './shared-input';
import { toolMessage } from './tool-message';

const MIMETYPE: Record<ImageFormat, string> = { jpeg: 'image/jpeg', webp: 'image/webp', png: 'image/png' };
const EXTENSION: Record<ImageFormat, string> = { jpeg: 'jpg', webp: 'webp', png: 'png' };

/** EXIF fields worth showing, by tag number (IFD0 and the Exif sub-IFD). */
const EXIF_TAGS: Record<number, string> = {
  0x010f: 'make',
  0x0110: 'model',
  0x0131: 'software',
  0x0132: 'modifiedAt',
  0x013b: 'artist',
  0x8298: 'copyright',
  0x9003: 'takenAt',
  0x829a: 'exposureTime',
  0x829d: 'fNumber',
  0x8827: 'iso',
  0x920a: 'focalLength',
  0xa434: 'lensModel',
};

/** The most pixels a batch keeps decoded for its renditions (up to 4 bytes each, with alpha: 64 MiB at most). */
const SHARED_DECODE_MAX_PIXELS = 16 * 1024 * 1024;

type Rendition = Pick<TaskTypes[TaskName.Thumbnail]['options'], 'width' | 'height' | 'fit'>;
interface DecodedPicture {
  data: Buffer;
  raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 };
}

/**
 * The scale (≤ 1 means a shrink) of an oriented `width`×`height` picture that is still large enough for every
 * rendition: `inside` needs the picture to fit its box, `cover` to fill it, so the largest of those scales.
 */
export function sharedScale(width: number, height: number, renditions: readonly Rendition[]): number {
  const needed = renditions.map(({ width: w, height: h, fit }) => (fit === 'cover' ? Math.max(w / width, h / height) : Math.min(w / width, h / height)));
  return Math.min(1, Math.max(...needed));
}

/**
 * Image tasks on sharp (libvips). sharp runs on libuv's thread pool, so decoding never blocks the worker's event
 * loop. Every decode is capped at IMAGE_MAX_PIXELS before any pixel is allocated (decompression bombs), EXIF
 * orientation is applied, and a broken file is a permanent failure with sharp's reason.
 */
@Injectable()
export class ImageHandlers {
  constructor(
    private readonly store: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    // several worker processes on one machine (npm start runs one per core): each gives libvips its share of the
    // cores, so that their threads do not multiply into more than the machine has
    if (config.workerProcesses) sharp.concurrency(Math.max(1, Math.floor(availableParallelism() / config.workerProcesses)));
  }

  /**
   * The input as a sharp pipeline. In a batch, every image step of the file clones one instance made from the bytes
   * read once (the same bytes, the same options: the same outputs as a lone job's, which reads the file itself).
   */
  private async open(input: Mfile, shared: SharedInput | undefined, path: string | undefined): Promise<sharp.Sharp> {
    if (!shared) return sharp(path, { limitInputPixels: this.config.imageMaxPixels, failOn: 'error', sequentialRead: true });
    const base = await shared.memo('sharp', async () => sharp(await shared.content(), { limitInputPixels: this.config.imageMaxPixels, failOn: 'error' }));
    return base.clone();
  }

  /**
   * One decode for every picture a batch makes of its input. Decoding (entropy decoding above all: a JPEG's whole
   * file is read at any shrink-on-load factor) costs more than the resize and the encode of a small rendition, so
   * when two or more `thumbnail`/`poster` steps of one batch work on one input, the first of them decodes it once,
   * oriented and shrunk only as far as the largest rendition allows, into raw pixels; each step resizes those to its
   * own size and encodes. Renditions may differ from a lone job's by rounding (a pixel at most), never in size class.
   * Nothing is shared when one step is alone, when no rendition is smaller than the input, or when the pixels kept
   * would exceed SHARED_DECODE_MAX_PIXELS: the steps then open the input each, as before.
   */
  private async decodedOnce(input: Mfile, shared: SharedInput): Promise<DecodedPicture | undefined> {
    const renditions = shared.steps
      .filter((step) => step.task === TaskName.Thumbnail || step.task === TaskName.Poster)
      .map((step) => step.options as unknown as Rendition);
    if (renditions.length < 2) return undefined;
    return shared.memo('decoded-once', async () => {
      const meta = await (await this.open(input, shared, undefined)).metadata();
      if (!meta.width || !meta.height || meta.width * meta.height > this.config.imageMaxPixels) return undefined; // each step fails on its own
      const rotated = (meta.orientation ?? 1) >= 5;
      const [width, height] = rotated ? [meta.height, meta.width] : [meta.width, meta.height];
      const scale = sharedScale(width, height, renditions);
      const size = { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
      if (scale >= 1 || size.width * size.height > SHARED_DECODE_MAX_PIXELS) return undefined;
      const { data, info } = await (
        await this.open(input, shared, undefined)
      )
        .rotate()
        .resize({ ...size, fit: 'fill' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      return { data, raw: { width: info.width, height: info.height, channels: info.channels } };
    });
  }

  /**
   * Runs `fn` with the input as a local path for sharp (the store's own file, or a local copy of an object in S3), or
   * without one when a batch shares the bytes read once.
   */
  private withInput<T>(input: Mfile, shared: SharedInput | undefined, fn: (path: string | undefined) => Promise<T>): Promise<T> {
    return shared ? fn(undefined) : this.store.withLocalFile(input.blobKey, fn);
  }

  private failure(input: Mfile, error: unknown, path?: string): TaskFailure {
    // the same words whether the bytes came from the file or from a batch's one read of it
    const message = ((error as Error).message ?? String(error)).replace(/^Input buffer/, 'Input file');
    if (/pixel limit/i.test(message))
      return new TaskFailure(`"${input.name}" has more pixels than the ${this.config.imageMaxPixels} allowed (IMAGE_MAX_PIXELS): not decoded`);
    return new TaskFailure(`"${input.name}" is not an image sharp can read: ${toolMessage(message, path ? [[path, 'the file']] : []) || 'no reason given'}`);
  }

  @TaskHandler(TaskName.ImageMetadata)
  async metadata(context: TaskContext<TaskName.ImageMetadata>): Promise<TaskOutcome<TaskName.ImageMetadata>> {
    const [input] = context.inputs;
    const meta = await this.withInput(input, context.shared, async (path) => {
      try {
        return await (await this.open(input, context.shared, path)).metadata();
      } catch (error) {
        throw this.failure(input, error, path);
      }
    });
    if (!meta.width || !meta.height) throw new TaskFailure(`"${input.name}" has no dimensions`);
    if (meta.width * meta.height > this.config.imageMaxPixels) throw this.failure(input, new Error('pixel limit'));
    const rotated = (meta.orientation ?? 1) >= 5;
    const result: TaskTypes[TaskName.ImageMetadata]['result'] = {
      width: rotated ? meta.height : meta.width,
      height: rotated ? meta.width : meta.height,
      format: meta.format ?? 'unknown',
      orientation: meta.orientation ?? null,
      space: meta.space ?? null,
      hasAlpha: meta.hasAlpha ?? false,
      density: meta.density ?? null,
      exif: meta.exif ? readExif(meta.exif) : {},
    };
    return { status: 'succeeded', result, mfilePatch: { metadata: { image: result as unknown as JsonObject } } };
  }

  @TaskHandler(TaskName.Thumbnail)
  thumbnail(context: TaskContext<TaskName.Thumbnail>): Promise<TaskOutcome<TaskName.Thumbnail>> {
    return this.resize(context, 'thumbnail');
  }

  @TaskHandler(TaskName.Poster)
  poster(context: TaskContext<TaskName.Poster>): Promise<TaskOutcome<TaskName.Poster>> {
    return this.resize(context, 'poster');
  }

  private async resize(context: TaskContext<TaskName.Thumbnail | TaskName.Poster>, role: 'thumbnail' | 'poster'): Promise<TaskOutcome<TaskName.Thumbnail>> {
    const [input] = context.inputs;
    const { width, height, format, quality, fit } = context.options;
    const output = await this.withInput(input, context.shared, async (path) => {
      try {
        const decoded = context.shared && (await this.decodedOnce(input, context.shared));
        const source = decoded ? sharp(decoded.data, { raw: decoded.raw }) : (await this.open(input, context.shared, path)).rotate();
        const pipeline = source.resize({ width, height, fit, withoutEnlargement: true });
        const encoded = format === 'png' ? pipeline.png() : format === 'webp' ? pipeline.webp({ quality }) : pipeline.jpeg({ quality, mozjpeg: true });
        return await encoded.toBuffer({ resolveWithObject: true });
      } catch (error) {
        throw this.failure(input, error, path);
      }
    });
    const blob = await this.store.storeBuffer(output.data);
    const result = { width: output.info.width, height: output.info.height, format, size: output.data.length };
    return {
      status: 'succeeded',
      result,
      outputs: [
        {
          name: `${parse(input.name).name}.${role}.${EXTENSION[format]}`,
          role,
          blob,
          mimetype: MIMETYPE[format],
          data: { width: result.width, height: result.height },
        },
      ],
    };
  }
}

/** A few readable EXIF fields from the raw TIFF-structured block sharp hands over (no code from the file runs). */
export function readExif(raw: Buffer): Record<string, string | number> {
  const fields: Record<string, string | number> = {};
  try {
    const start = raw.indexOf('Exif\0\0') === 0 ? 6 : 0;
    const tiff = raw.subarray(start);
    const little = tiff.toString('latin1', 0, 2) === 'II';
    const u16 = (offset: number) => (little ? tiff.readUInt16LE(offset) : tiff.readUInt16BE(offset));
    const u32 = (offset: number) => (little ? tiff.readUInt32LE(offset) : tiff.readUInt32BE(offset));
    const readIfd = (offset: number, depth: number) => {
      if (offset <= 0 || offset + 2 > tiff.length || depth > 2) return;
      const count = Math.min(u16(offset), 500);
      for (let i = 0; i < count; i++) {
        const entry = offset + 2 + i * 12;
        if (entry + 12 > tiff.length) return;
        const tag = u16(entry);
        const type = u16(entry + 2);
        const n = u32(entry + 4);
        if (tag === 0x8769) readIfd(u32(entry + 8), depth + 1);
        const name = EXIF_TAGS[tag];
        if (!name) continue;
        if (type === 2) {
          const at = n <= 4 ? entry + 8 : u32(entry + 8);
          if (at + n <= tiff.length)
            fields[name] = tiff
              .toString('latin1', at, at + n)
              .replace(/\0+$/, '')
              .trim()
              .slice(0, 200);
        } else if (type === 3) fields[name] = u16(entry + 8);
        else if (type === 4) fields[name] = u32(entry + 8);
        else if (type === 5) {
          const at = u32(entry + 8);
          if (at + 8 <= tiff.length && u32(at + 4) !== 0) fields[name] = Number((u32(at) / u32(at + 4)).toPrecision(6));
        }
      }
    };
    readIfd(u32(4), 0);
  } catch {
    /* a malformed EXIF block yields what was read so far */
  }
  return fields;
}
