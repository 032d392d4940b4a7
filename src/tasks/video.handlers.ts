import { Inject, Injectable } from '@nestjs/common';
import ffmpeg from 'fluent-ffmpeg';
import { unlink } from 'node:fs/promises';
import { parse } from 'node:path';
import { APP_CONFIG, AppConfig } from '../config/config';
import { JsonObject } from '../database/columns';
import { Mfile } from '../mfiles/mfile.entity';
import { BlobStore } from '../storage/blob-store';
import { MimeDetector } from '../storage/mime-detector';
import { runFfprobe } from './child-tool';
import { TaskName, TaskTypes, TRANSCODE_PRESETS } from './task-catalogue';
import { TaskContext, TaskFailure, TaskHandler, TaskOutcome } from './task-handler.decorator';
import { toolMessage } from './tool-message';

type Probe = TaskTypes[TaskName.VideoMetadata]['result'];
type Context = Pick<TaskContext<TaskName>, 'signal' | 'reportProgress'>;

/** Inputs may use the file protocol only: no http, tcp, rtmp... */
const LOCAL_ONLY = ['-protocol_whitelist', 'file'];

/**
 * The demuxer ffmpeg and ffprobe are made to use, by the container the input's magic number shows (file-type's
 * extension). Left to themselves they pick one by probing and by the name, and an HLS playlist or a concat list
 * uploaded as `x.mp4` makes them open any local file by its absolute path: playlists and lists (hls, concat, ffconcat,
 * m3u, sdp, image sequences) are in no row here, so they are refused, and the demuxer is also the only one allowed
 * (`-format_whitelist`), nested opens included.
 */
const DEMUXERS: Record<string, string> = {
  mp4: 'mov',
  mov: 'mov',
  m4a: 'mov',
  m4v: 'mov',
  m4b: 'mov',
  '3gp': 'mov',
  '3g2': 'mov',
  f4v: 'mov',
  f4a: 'mov',
  mkv: 'matroska',
  mka: 'matroska',
  webm: 'matroska',
  avi: 'avi',
  mts: 'mpegts',
  mpg: 'mpeg',
  flv: 'flv',
  ogv: 'ogg',
  ogg: 'ogg',
  oga: 'ogg',
  opus: 'ogg',
  spx: 'ogg',
  mp3: 'mp3',
  mp2: 'mp3',
  wav: 'wav',
  flac: 'flac',
  aac: 'aac',
  asf: 'asf',
  aif: 'aiff',
  mxf: 'mxf',
  amr: 'amr',
  ac3: 'ac3',
};

/** What ffmpeg's decoders say when a frame is over `-max_pixels`. */
const OVER_PIXEL_CAP = /exceeds specified max pixel count/;

/** ffmpeg's `-progress` lines (key=value, one block per update): read for the progress, kept out of error messages. */
const PROGRESS_LINE = /^(frame|fps|stream_\d+_\d+_\w+|bitrate|total_size|out_time(_us|_ms)?|dup_frames|drop_frames|speed|progress)=/;

/** How much of ffmpeg's stderr (progress lines left out) is kept for its error message. */
const KEPT_STDERR = 64 * 1024;

/** The stored file and the input options that pin ffmpeg/ffprobe to the demuxer its bytes show and to that one file. */
interface Source {
  path: string;
  inputOptions: string[];
}

/** What `ffprobe -print_format json -show_format -show_streams` prints, the fields we read. */
interface ProbeJson {
  format?: { format_name?: string; duration?: string; bit_rate?: string };
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    channels?: number;
    sample_rate?: string;
    disposition?: { attached_pic?: number };
  }>;
}

function rate(value: string | undefined): number | null {
  if (!value) return null;
  const [n, d] = value.split('/').map(Number);
  const fps = d ? n / d : n;
  return Number.isFinite(fps) && fps > 0 ? Number(fps.toFixed(3)) : null;
}

/**
 * Video and audio tasks: ffmpeg runs through fluent-ffmpeg, ffprobe through runFfprobe (fluent-ffmpeg's cannot be
 * killed), both child processes never started through a shell, so the worker's event loop never blocks and a crashing
 * ffmpeg fails a job, not the worker. The job's signal stops them: cancelled, over its time limit or at shutdown the
 * child is SIGKILLed, and the handler settles only once it has ended. Outputs are
 * written to the store's temp folder and committed like uploads (hashed, fsynced, renamed).
 */
@Injectable()
export class VideoHandlers {
  constructor(
    private readonly store: BlobStore,
    private readonly mime: MimeDetector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The stored file as ffmpeg and ffprobe must read it: with the demuxer of the container its bytes show (never one
   * they guess), that demuxer the only one allowed, local files only, and for MOV/MP4 no external data references.
   * The container is told from the first bytes before anything else is read; `fn` then gets a local path (the
   * store's own file, or a copy of an object in S3, removed when `fn` settles).
   */
  private async source<T>(input: Mfile, fn: (source: Source) => Promise<T>): Promise<T> {
    const chunks: Buffer[] = [];
    if (input.size > 0)
      for await (const chunk of this.store.read(input.blobKey, { start: 0, end: Math.min(input.size, 4100) - 1 })) chunks.push(chunk as Buffer);
    const detected = await this.mime.magic(Buffer.concat(chunks));
    const demuxer = detected && DEMUXERS[detected.ext];
    if (!demuxer)
      throw new TaskFailure(
        `"${input.name}" is not in a media container MServe reads (${detected ? `its bytes are ${detected.mime}` : 'its bytes show no known container'}; playlists and lists are never read)`,
      );
    // the decoder refuses any frame over the pixel cap too, whatever the container said (-max_pixels)
    const pinned = ['-format_whitelist', demuxer, '-f', demuxer, ...(demuxer === 'mov' ? ['-enable_drefs', '0'] : [])];
    const inputOptions = [...LOCAL_ONLY, ...pinned, '-max_pixels', String(this.config.videoMaxPixels)];
    return this.store.withLocalFile(input.blobKey, (path) => fn({ path, inputOptions }));
  }

  private async probe(input: Mfile, context: Context, source: Source): Promise<Probe> {
    const { path } = source;
    // not fluent-ffmpeg's ffprobe, which cannot be stopped (see runFfprobe)
    const run = await runFfprobe(
      ['-v', 'error', '-hide_banner', '-print_format', 'json', '-show_format', '-show_streams', ...source.inputOptions, '-i', path],
      context.signal,
    );
    if (run.signal) throw new Error(`ffprobe was stopped (ffprobe was killed with signal ${run.signal}): will retry`);
    if (run.code !== 0 && OVER_PIXEL_CAP.test(run.stderr)) throw this.tooManyPixels(input);
    let data: ProbeJson | undefined;
    try {
      data = run.code === 0 ? (JSON.parse(run.stdout) as ProbeJson) : undefined;
    } catch {
      data = undefined;
    }
    if (!data?.format)
      throw new TaskFailure(
        `"${input.name}" is not a media file ffprobe can read: ${toolMessage(run.stderr, [[path, 'the file']]) || `ffprobe exited with code ${run.code}`}`,
      );
    const streams = data.streams ?? [];
    const video = streams.find((stream) => stream.codec_type === 'video' && stream.disposition?.attached_pic !== 1);
    const audio = streams.find((stream) => stream.codec_type === 'audio');
    const duration = Number(data.format.duration);
    return {
      duration: Number.isFinite(duration) ? duration : null,
      format: data.format.format_name ?? null,
      bitRate: Number.isFinite(Number(data.format.bit_rate)) ? Number(data.format.bit_rate) : null,
      video: video
        ? {
            codec: video.codec_name ?? 'unknown',
            width: video.width ?? 0,
            height: video.height ?? 0,
            fps: rate(video.avg_frame_rate) ?? rate(video.r_frame_rate),
          }
        : null,
      audio: audio ? { codec: audio.codec_name ?? 'unknown', channels: audio.channels ?? 0, sampleRate: Number(audio.sample_rate ?? 0) } : null,
    };
  }

  private async requireVideo(input: Mfile, context: Context, source: Source): Promise<Probe & { video: NonNullable<Probe['video']> }> {
    const probe = await this.probe(input, context, source);
    if (!probe.video || !probe.video.width) throw new TaskFailure(`"${input.name}" has no video stream`);
    this.checkPixels(input, probe.video);
    return probe as Probe & { video: NonNullable<Probe['video']> };
  }

  /** Frames over VIDEO_MAX_PIXELS are refused before ffmpeg decodes one (decompression bombs, as IMAGE_MAX_PIXELS for images). */
  private checkPixels(input: Mfile, video: { width: number; height: number }): void {
    if (video.width * video.height > this.config.videoMaxPixels) throw this.tooManyPixels(input, video);
  }

  private tooManyPixels(input: Mfile, video?: { width: number; height: number }): TaskFailure {
    return new TaskFailure(
      `"${input.name}" has ${video ? `${video.width}×${video.height} frames, ` : 'frames of '}more pixels than the ${this.config.videoMaxPixels} allowed (VIDEO_MAX_PIXELS): not decoded`,
    );
  }

  /**
   * Runs ffmpeg on the input into a temp file and commits it. ffmpeg killed by someone else (a signal we did not send)
   * is worth a retry; any other failure is the input's and permanent; stopped by the job's signal, it rejects with the
   * signal's reason once ffmpeg has ended.
   */
  private async render(
    input: Mfile,
    source: Source,
    outputArgs: string[],
    extension: string,
    context: Context,
    duration: number | null,
    seekArgs: string[] = [],
  ) {
    const temp = `${this.store.newTempPath()}.${extension}`;
    try {
      await this.ffmpeg(input, source, outputArgs, temp, context, duration, seekArgs);
      return await this.store.commitFile(temp);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  /**
   * One ffmpeg run through fluent-ffmpeg, settled only once fluent-ffmpeg has seen the process end ('end', or 'error'
   * after its exit). No 'progress' listener is ever added: fluent-ffmpeg would then run an ffprobe of its own on the
   * input (processor.js `_prepare`), without our input options and beyond our signal's reach. ffmpeg writes its
   * `-progress` lines to stderr instead (`pipe:2`), read from the 'stderr' line events. The job's signal SIGKILLs it
   * (`command.kill`), at once if it is running, or as soon as it starts if fluent-ffmpeg is still preparing it.
   */
  private ffmpeg(input: Mfile, source: Source, outputArgs: string[], temp: string, context: Context, duration: number | null, seekArgs: string[]) {
    const { signal } = context;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      let stderr = '';
      let started = false;
      // several arguments, so fluent-ffmpeg splits none of them at a space; it adds `-i <path>`, `-y` and the output
      const command = ffmpeg(source.path)
        .inputOptions(...['-nostdin', '-hide_banner', '-v', 'error', '-nostats', '-progress', 'pipe:2'], ...seekArgs, ...source.inputOptions)
        .outputOptions(...outputArgs)
        .output(temp);
      const kill = () => {
        if (started) command.kill('SIGKILL');
      };
      command.on('start', () => {
        started = true;
        if (signal.aborted) command.kill('SIGKILL');
      });
      command.on('stderr', (line: string) => {
        if (!PROGRESS_LINE.test(line)) {
          stderr = `${stderr}${line}\n`.slice(-KEPT_STDERR);
          return;
        }
        const match = /^out_time_us=(\d+)$/.exec(line.trim());
        if (!match || !duration) return;
        const percent = (Number(match[1]) / 1e6 / duration) * 100;
        if (Number.isFinite(percent)) void context.reportProgress(Math.min(99, percent)).catch(() => undefined);
      });
      command.on('end', () => {
        signal.removeEventListener('abort', kill);
        if (signal.aborted) reject(signal.reason as Error);
        else resolve();
      });
      command.on('error', (error: Error) => {
        signal.removeEventListener('abort', kill);
        if (signal.aborted) return reject(signal.reason as Error);
        const killed = /^ffmpeg was killed with signal (\w+)/.exec(error.message);
        if (killed) return reject(new Error(`ffmpeg was stopped (ffmpeg was killed with signal ${killed[1]}): will retry`));
        const exited = /^ffmpeg exited with code (\d+)/.exec(error.message);
        if (!exited) return reject(error);
        if (OVER_PIXEL_CAP.test(stderr)) return reject(this.tooManyPixels(input));
        reject(
          new TaskFailure(
            `ffmpeg failed: ${
              toolMessage(stderr, [
                [source.path, 'the file'],
                [temp, 'the output'],
              ]) || `ffmpeg exited with code ${exited[1]}`
            }`,
          ),
        );
      });
      signal.addEventListener('abort', kill, { once: true });
      command.run();
    });
  }

  @TaskHandler(TaskName.VideoMetadata)
  async metadata(context: TaskContext<TaskName.VideoMetadata>): Promise<TaskOutcome<TaskName.VideoMetadata>> {
    const [input] = context.inputs;
    const probe = await this.source(input, (source) => this.probe(input, context, source));
    if (!probe.video && !probe.audio) throw new TaskFailure(`"${input.name}" has neither a video nor an audio stream`);
    return { status: 'succeeded', result: probe, mfilePatch: { metadata: { video: probe as unknown as JsonObject } } };
  }

  @TaskHandler(TaskName.VideoPoster)
  async poster(context: TaskContext<TaskName.VideoPoster>): Promise<TaskOutcome<TaskName.VideoPoster>> {
    const [input] = context.inputs;
    return this.source(input, async (source) => {
      const probe = await this.requireVideo(input, context, source);
      const { width, height } = context.options;
      // a frame a little before the end at most, so a short clip still has one
      const at = probe.duration ? Math.max(0, Math.min(probe.duration * (context.options.at / 100), probe.duration - 0.1)) : 0;
      const output = [
        ...['-frames:v', '1', '-filter:v', `scale='min(${width},iw)':'min(${height},ih)':force_original_aspect_ratio=decrease`],
        ...['-q:v', '3', '-f', 'image2', '-c:v', 'mjpeg'],
      ];
      const blob = await this.render(input, source, output, 'jpg', context, null, ['-ss', String(at)]);
      const fitted = fit(probe.video.width, probe.video.height, width, height);
      return {
        status: 'succeeded',
        result: { at: Number(at.toFixed(3)), ...fitted, size: blob.size },
        outputs: [
          { name: `${parse(input.name).name}.poster.jpg`, role: 'poster', blob, mimetype: 'image/jpeg', data: { ...fitted, at: Number(at.toFixed(3)) } },
        ],
      };
    });
  }

  @TaskHandler(TaskName.VideoProxy)
  async proxy(context: TaskContext<TaskName.VideoProxy>): Promise<TaskOutcome<TaskName.VideoProxy>> {
    const [input] = context.inputs;
    return this.source(input, async (source) => {
      const probe = await this.requireVideo(input, context, source);
      const height = Math.min(context.options.height, probe.video.height) & ~1;
      const width = Math.round((probe.video.width * height) / probe.video.height / 2) * 2;
      const output = [
        ...['-c:v', 'libx264', '-filter:v', `scale=${width}:${height}`],
        ...['-preset', 'veryfast', '-crf', String(context.options.crf), '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
        ...['-c:a', 'aac', '-b:a', '128k', '-f', 'mp4'],
      ];
      const blob = await this.render(input, source, output, 'mp4', context, probe.duration);
      return {
        status: 'succeeded',
        result: { width, height, duration: probe.duration, size: blob.size },
        outputs: [{ name: `${parse(input.name).name}.proxy.mp4`, role: 'proxy', blob, mimetype: 'video/mp4', data: { width, height } }],
      };
    });
  }

  @TaskHandler(TaskName.Transcode)
  async transcode(context: TaskContext<TaskName.Transcode>): Promise<TaskOutcome<TaskName.Transcode>> {
    const [input] = context.inputs;
    const preset = TRANSCODE_PRESETS[context.options.preset];
    return this.source(input, async (source) => {
      const probe = await this.probe(input, context, source);
      const output: string[] = [];
      if (preset.video) {
        if (!probe.video) throw new TaskFailure(`preset ${context.options.preset} makes a video, but "${input.name}" has no video stream`);
        this.checkPixels(input, probe.video);
        const height = Math.min(preset.video.height, probe.video.height) & ~1;
        output.push('-c:v', preset.video.codec, '-filter:v', `scale=-2:${height}`, '-crf', String(preset.video.crf), '-pix_fmt', 'yuv420p');
        if (preset.video.codec === 'libx264') output.push('-preset', 'veryfast');
        if (preset.video.codec === 'libvpx-vp9') output.push('-b:v', '0', '-deadline', 'realtime', '-cpu-used', '8');
      } else {
        if (!probe.audio) throw new TaskFailure(`preset ${context.options.preset} makes audio, but "${input.name}" has no audio stream`);
        output.push('-vn');
      }
      if (probe.audio) output.push('-c:a', preset.audio.codec, '-b:a', preset.audio.bitrate);
      else output.push('-an');
      output.push('-f', preset.container === 'm4a' ? 'ipod' : preset.container);
      if (preset.container === 'mp4' || preset.container === 'm4a') output.push('-movflags', '+faststart');
      const blob = await this.render(input, source, output, preset.container, context, probe.duration);
      return {
        status: 'succeeded',
        result: { preset: context.options.preset, mimetype: preset.mimetype, size: blob.size, duration: probe.duration },
        outputs: [
          {
            name: `${parse(input.name).name}.${context.options.preset}.${preset.container}`,
            role: `transcode/${context.options.preset}`,
            blob,
            mimetype: preset.mimetype,
          },
        ],
      };
    });
  }
}

/** The size of a width×height picture fitted inside maxWidth×maxHeight, never enlarged. */
function fit(width: number, height: number, maxWidth: number, maxHeight: number): { width: number; height: number } {
  const scale = Math.min(1, maxWidth / width, maxHeight / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
