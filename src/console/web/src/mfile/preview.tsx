import { useEffect, useState } from 'preact/hooks';
import { can, contentUrl, describeError, request } from '../api';
import { formatBytes } from '../format';
import { ImageSource, imageSource, previewKind, TEXT_PREVIEW_BYTES, videoSources } from './media';
import { isFinal, Job, Mfile } from './types';

const urlOf = (source: ImageSource) => contentUrl(source.path, { v: source.version });

/** A job still making one of this file's previews (for a "being made" note with its progress). */
function pendingTask(jobs: Job[], tasks: string[]): Job | undefined {
  return jobs.find((job) => tasks.includes(job.task) && !isFinal(job.state));
}

function Making({ job, what }: { job: Job | undefined; what: string }) {
  if (!job) return null;
  return (
    <p class="preview-note" role="status">
      {what} is being made ({job.state === 'running' ? `${Math.round(job.progress)} %` : job.state})…
    </p>
  );
}

/**
 * The preview of an Mfile: the picture (itself or its poster/thumbnail), the video proxy in a player with its
 * poster, an audio player, or the first 64 KiB of a text. Renditions appear as their jobs finish (the page reads
 * the file again then), without a reload.
 */
export function Preview({ mfile, jobs }: { mfile: Mfile; jobs: Job[] }) {
  const kind = previewKind(mfile.mimetype);
  return (
    <figure class="mfile-preview" data-kind={kind}>
      {kind === 'image' && <ImagePreview mfile={mfile} jobs={jobs} />}
      {kind === 'video' && <VideoPreview mfile={mfile} jobs={jobs} />}
      {kind === 'audio' && (
        <audio
          controls
          preload="metadata"
          src={contentUrl(`/mfiles/${mfile.id}/content`, { v: mfile.sha256.slice(0, 16) })}
          aria-label={`Play ${mfile.name}`}
        />
      )}
      {kind === 'text' && <TextPreview mfile={mfile} />}
      {kind === 'none' && <p class="preview-note">No preview for {mfile.mimetype} files. Download it to open it.</p>}
    </figure>
  );
}

function ImagePreview({ mfile, jobs }: { mfile: Mfile; jobs: Job[] }) {
  const source = imageSource(mfile, can('joboutput:read'));
  const [failed, setFailed] = useState(false);
  useEffect(() => setFailed(false), [source?.path, source?.version]);
  if (!source) {
    return (
      <>
        <p class="preview-note">Browsers cannot show {mfile.mimetype} pictures; a preview appears once the poster or thumbnail task has made one.</p>
        <Making job={pendingTask(jobs, ['poster', 'thumbnail'])} what="A preview" />
      </>
    );
  }
  if (failed)
    return (
      <p class="preview-note" role="alert">
        The picture could not be loaded.
      </p>
    );
  return (
    <>
      <img
        class="preview-image"
        src={urlOf(source)}
        alt={`Preview of ${mfile.name}`}
        width={source.width}
        height={source.height}
        onError={() => setFailed(true)}
      />
      {source.what !== 'original' && <figcaption class="muted">Showing the {source.what} made from this file.</figcaption>}
    </>
  );
}

function VideoPreview({ mfile, jobs }: { mfile: Mfile; jobs: Job[] }) {
  const proxyJob = pendingTask(jobs, ['video-proxy']);
  const { src, poster, playing } = videoSources(mfile, proxyJob !== undefined, can('joboutput:read'));
  if (!src) {
    return (
      <>
        {poster && <img class="preview-image" src={urlOf(poster)} alt={`Poster frame of ${mfile.name}`} width={poster.width} height={poster.height} />}
        {proxyJob ? (
          <Making job={proxyJob} what="A streaming copy" />
        ) : (
          <p class="preview-note">Browsers cannot play {mfile.mimetype} as it is. Run the video-proxy task below to make a copy that plays.</p>
        )}
      </>
    );
  }
  return (
    <>
      {/* key: a new proxy (or replaced content) loads a fresh player */}
      <video
        key={src.version}
        class="preview-video"
        controls
        preload="metadata"
        playsInline
        src={urlOf(src)}
        poster={poster ? urlOf(poster) : undefined}
        aria-label={`Play ${mfile.name}`}
      />
      <figcaption class="muted">{playing === 'proxy' ? 'Playing the streaming copy (video proxy).' : 'Playing the original file.'}</figcaption>
    </>
  );
}

function TextPreview({ mfile }: { mfile: Mfile }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (mfile.size === 0) {
      setText('');
      return;
    }
    const abort = new AbortController();
    setText(null);
    setError(null);
    void (async () => {
      try {
        const response = await request(`/mfiles/${mfile.id}/content`, {
          headers: { Range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}`, Accept: '*/*' },
          query: { v: mfile.sha256.slice(0, 16) },
          signal: abort.signal,
        });
        const bytes = new Uint8Array(await response.arrayBuffer()).subarray(0, TEXT_PREVIEW_BYTES);
        // stream: a character cut at the 64 KiB edge is left out rather than shown as garbage
        setText(new TextDecoder('utf-8').decode(bytes, { stream: true }));
      } catch (caught) {
        if (!abort.signal.aborted) setError(caught);
      }
    })();
    return () => abort.abort();
  }, [mfile.id, mfile.sha256]);
  if (error)
    return (
      <p class="preview-note" role="alert">
        The text could not be read: {describeError(error)}
      </p>
    );
  if (text === null)
    return (
      <p class="loading" role="status">
        Reading the text…
      </p>
    );
  return (
    <>
      <pre class="preview-text" tabIndex={0} aria-label={`Text of ${mfile.name}`}>
        {text || '(empty file)'}
      </pre>
      {mfile.size > TEXT_PREVIEW_BYTES && (
        <figcaption class="muted">
          The first {formatBytes(TEXT_PREVIEW_BYTES)} of {formatBytes(mfile.size)}. Download the file for all of it.
        </figcaption>
      )}
    </>
  );
}
