import { Injectable } from '@nestjs/common';
import ffmpeg, { FfprobeData } from 'fluent-ffmpeg';
import { unlink } from 'node:fs/promises';
import { parse } from 'node:path';
import { JsonObject } from '../database/columns';
import { Mfile } from '../mfiles/mfile.entity';
import { ContentStore } from '../storage/content-store';
import { TaskName, TaskTypes, TRANSCODE_PRESETS } from './task-catalogue';
import { TaskContext, TaskFailure, TaskHandler, TaskOutcome } from './task-handler.decorator';
import { toolMessage } from './tool-message';

type Probe = TaskTypes[TaskName.VideoMetadata]['result'];

/** Inputs may use the file protocol only: no http, tcp, rtmp... from inside an uploaded playlist. */
const LOCAL_ONLY = ['-protocol_whitelist', 'file'];

/** Why ffmpeg or ffprobe failed on the input, in the tool's words without the server's paths (toolMessage). */
function reason(error: unknown, output: string | undefined, paths: ReadonlyArray<readonly [string, string]>): string {
  return toolMessage(output ?? '', paths) || toolMessage((error as Error)?.message ?? String(error), paths);
}

function rate(value: string | undefined): number | null {
  if (!value) return null;
  const [n, d] = value.split('/').map(Number);
  const fps = d ? n / d : n;
  return Number.isFinite(fps) && fps > 0 ? Number(fps.toFixed(3)) : null;
}

/**
 * Video and audio tasks through fluent-ffmpeg: ffprobe and ffmpeg run as child processes, so the worker's event loop
 * never blocks and a crashing ffmpeg fails a job, not the worker. Outputs are written to the store's temp folder and
 * committed like uploads (hashed, fsynced, renamed).
 */
@Injectable()
export class VideoHandlers {
  constructor(private readonly store: ContentStore) {}

  /** An ffmpeg command on the stored file that may open local files only (a playlist inside an upload cannot make it fetch URLs). */
  private command(input: Mfile): ffmpeg.FfmpegCommand {
    return ffmpeg(this.store.pathOf(input.blobKey)).inputOptions(LOCAL_ONLY);
  }

  private probe(input: Mfile): Promise<Probe> {
    return new Promise((resolve, reject) => {
      ffmpeg.ffprobe(this.store.pathOf(input.blobKey), LOCAL_ONLY, (error: Error | null, data: FfprobeData) => {
        if (error)
          return reject(
            new TaskFailure(
              `"${input.name}" is not a media file ffprobe can read: ${reason(error, error.message, [[this.store.pathOf(input.blobKey), 'the file']])}`,
            ),
          );
        const video = data.streams.find((stream) => stream.codec_type === 'video' && stream.disposition?.attached_pic !== 1);
        const audio = data.streams.find((stream) => stream.codec_type === 'audio');
        const duration = Number(data.format.duration);
        resolve({
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
        });
      });
    });
  }

  private async requireVideo(input: Mfile): Promise<Probe & { video: NonNullable<Probe['video']> }> {
    const probe = await this.probe(input);
    if (!probe.video || !probe.video.width) throw new TaskFailure(`"${input.name}" has no video stream`);
    return probe as Probe & { video: NonNullable<Probe['video']> };
  }

  /**
   * Runs one ffmpeg command into a temp file and commits it. A signal (the process killed) is worth a retry; any
   * other failure is the input's and permanent.
   */
  private async render(
    input: Mfile,
    command: ffmpeg.FfmpegCommand,
    extension: string,
    context: { reportProgress(percent: number): Promise<void> },
    duration: number | null,
  ) {
    const temp = `${this.store.newTempPath()}.${extension}`;
    try {
      await new Promise<void>((resolve, reject) => {
        command
          .on('progress', (progress: { percent?: number; timemark?: string }) => {
            let percent = progress.percent;
            if ((percent === undefined || !Number.isFinite(percent)) && duration && progress.timemark) {
              const [h, m, s] = progress.timemark.split(':').map(Number);
              percent = ((h * 3600 + m * 60 + s) / duration) * 100;
            }
            if (percent !== undefined && Number.isFinite(percent)) void context.reportProgress(Math.min(99, percent)).catch(() => undefined);
          })
          .on('error', (error: Error, _stdout: string | null, stderr: string | null) => {
            if (/killed with signal|SIGKILL|SIGTERM/i.test(error.message)) reject(new Error(`ffmpeg was stopped (${error.message}): will retry`));
            else
              reject(
                new TaskFailure(
                  `ffmpeg failed: ${reason(error, stderr ?? undefined, [
                    [this.store.pathOf(input.blobKey), 'the file'],
                    [temp, 'the output'],
                  ])}`,
                ),
              );
          })
          .on('end', () => resolve())
          .save(temp);
      });
      return await this.store.commitFile(temp);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  @TaskHandler(TaskName.VideoMetadata)
  async metadata(context: TaskContext<TaskName.VideoMetadata>): Promise<TaskOutcome<TaskName.VideoMetadata>> {
    const [input] = context.inputs;
    const probe = await this.probe(input);
    if (!probe.video && !probe.audio) throw new TaskFailure(`"${input.name}" has neither a video nor an audio stream`);
    return { status: 'succeeded', result: probe, mfilePatch: { metadata: { video: probe as unknown as JsonObject } } };
  }

  @TaskHandler(TaskName.VideoPoster)
  async poster(context: TaskContext<TaskName.VideoPoster>): Promise<TaskOutcome<TaskName.VideoPoster>> {
    const [input] = context.inputs;
    const probe = await this.requireVideo(input);
    const { width, height } = context.options;
    // a frame a little before the end at most, so a short clip still has one
    const at = probe.duration ? Math.max(0, Math.min(probe.duration * (context.options.at / 100), probe.duration - 0.1)) : 0;
    const command = this.command(input)
      .seekInput(at)
      .frames(1)
      .videoFilters(`scale='min(${width},iw)':'min(${height},ih)':force_original_aspect_ratio=decrease`)
      .outputOptions(['-q:v', '3', '-f', 'image2', '-c:v', 'mjpeg']);
    const blob = await this.render(input, command, 'jpg', context, null);
    const fitted = fit(probe.video.width, probe.video.height, width, height);
    return {
      status: 'succeeded',
      result: { at: Number(at.toFixed(3)), ...fitted, size: blob.size },
      outputs: [{ name: `${parse(input.name).name}.poster.jpg`, role: 'poster', blob, mimetype: 'image/jpeg', data: { ...fitted, at: Number(at.toFixed(3)) } }],
    };
  }

  @TaskHandler(TaskName.VideoProxy)
  async proxy(context: TaskContext<TaskName.VideoProxy>): Promise<TaskOutcome<TaskName.VideoProxy>> {
    const [input] = context.inputs;
    const probe = await this.requireVideo(input);
    const height = Math.min(context.options.height, probe.video.height) & ~1;
    const width = Math.round((probe.video.width * height) / probe.video.height / 2) * 2;
    const command = this.command(input)
      .videoCodec('libx264')
      .videoFilters(`scale=${width}:${height}`)
      .outputOptions(['-preset', 'veryfast', '-crf', String(context.options.crf), '-pix_fmt', 'yuv420p', '-movflags', '+faststart'])
      .audioCodec('aac')
      .audioBitrate('128k')
      .format('mp4');
    const blob = await this.render(input, command, 'mp4', context, probe.duration);
    return {
      status: 'succeeded',
      result: { width, height, duration: probe.duration, size: blob.size },
      outputs: [{ name: `${parse(input.name).name}.proxy.mp4`, role: 'proxy', blob, mimetype: 'video/mp4', data: { width, height } }],
    };
  }

  @TaskHandler(TaskName.Transcode)
  async transcode(context: TaskContext<TaskName.Transcode>): Promise<TaskOutcome<TaskName.Transcode>> {
    const [input] = context.inputs;
    const preset = TRANSCODE_PRESETS[context.options.preset];
    const probe = await this.probe(input);
    const command = this.command(input);
    if (preset.video) {
      if (!probe.video) throw new TaskFailure(`preset ${context.options.preset} makes a video, but "${input.name}" has no video stream`);
      const height = Math.min(preset.video.height, probe.video.height) & ~1;
      command
        .videoCodec(preset.video.codec)
        .videoFilters(`scale=-2:${height}`)
        .outputOptions(['-crf', String(preset.video.crf), '-pix_fmt', 'yuv420p']);
      if (preset.video.codec === 'libx264') command.outputOptions(['-preset', 'veryfast']);
      if (preset.video.codec === 'libvpx-vp9') command.outputOptions(['-b:v', '0', '-deadline', 'realtime', '-cpu-used', '8']);
    } else {
      if (!probe.audio) throw new TaskFailure(`preset ${context.options.preset} makes audio, but "${input.name}" has no audio stream`);
      command.noVideo();
    }
    if (probe.audio) command.audioCodec(preset.audio.codec).audioBitrate(preset.audio.bitrate);
    else command.noAudio();
    const format = preset.container === 'm4a' ? 'ipod' : preset.container;
    command.format(format);
    if (preset.container === 'mp4' || preset.container === 'm4a') command.outputOptions(['-movflags', '+faststart']);
    const blob = await this.render(input, command, preset.container, context, probe.duration);
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
  }
}

/** The size of a width×height picture fitted inside maxWidth×maxHeight, never enlarged. */
function fit(width: number, height: number, maxWidth: number, maxHeight: number): { width: number; height: number } {
  const scale = Math.min(1, maxWidth / width, maxHeight / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
