/** Lines of ffmpeg/ffprobe output that say nothing about why a file failed: progress, the banner, build details. */
const NOISE =
  /^(frame=|size=|Metadata:|Stream mapping|Press \[q\]|ffprobe version|ffmpeg version|built with|configuration:|lib(avutil|avcodec|avformat|avdevice|avfilter|swscale|swresample|postproc)\s)/;

/**
 * What a media tool (ffmpeg, ffprobe, libvips through sharp) said, made fit for a job's error: where files are stored
 * on the server is replaced by what the customer knows them as (the store's paths are not theirs to see), demuxer
 * memory addresses and the tools' banners go, repeated lines are said once, and the last three that remain are kept.
 */
export function toolMessage(text: string, paths: ReadonlyArray<readonly [path: string, label: string]>): string {
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.replace(/^\s*\[[^\]]*? @ 0x[0-9a-f]+\]\s*/, '').trim();
    for (const [path, label] of paths) line = line.split(path).join(label);
    if (line && !NOISE.test(line) && !lines.includes(line)) lines.push(line);
  }
  return lines.slice(-3).join(' / ').slice(0, 500);
}
