import { applyJobEvent, jobsToFollow, newestFirst, secondsBetween } from './job-events';
import { formatClock, imageSource, mediaFacts, previewKind, videoSources } from './media';
import { makeJob } from './job-fixture';
import type { Job, Mfile } from './types';

const mfile = (patch: Partial<Mfile>): Mfile => ({
  id: 'f1',
  containerId: 'c',
  serviceId: 's',
  folderId: 'd',
  name: 'a',
  size: 1000,
  md5: '0'.repeat(32),
  sha256: 'ab'.repeat(32),
  mimetype: 'application/octet-stream',
  metadata: {},
  createdAt: '2025-01-01T00:00:00Z',
  updatedAt: '2025-01-01T00:00:00Z',
  contentUpdatedAt: '2025-01-01T00:00:00Z',
  ...patch,
});
const rendition = (id: string, extra = {}) => ({
  jobOutputId: id,
  jobId: 'j',
  mimetype: 'image/jpeg',
  size: 10,
  url: `/api/v1/joboutputs/${id}/content`,
  ...extra,
});

const job = (id: string, state: Job['state'], patch: Partial<Job> = {}): Job => makeJob(id, { state, ...patch });

describe('Mfile preview choices', () => {
  it('knows how to preview each kind of file', () => {
    expect(previewKind('image/heic')).toBe('image');
    expect(previewKind('video/quicktime')).toBe('video');
    expect(previewKind('audio/mpeg')).toBe('audio');
    expect(previewKind('text/plain; charset=utf-8')).toBe('text');
    expect(previewKind('application/json')).toBe('text');
    expect(previewKind('application/ld+json')).toBe('text');
    expect(previewKind('application/zip')).toBe('none');
  });

  it('shows a picture itself when a browser draws it, else its poster or thumbnail', () => {
    expect(imageSource(mfile({ mimetype: 'image/png', metadata: { image: { width: 64, height: 48 } } }))).toEqual({
      path: '/mfiles/f1/content',
      version: 'ab'.repeat(8),
      width: 64,
      height: 48,
      what: 'original',
    });
    const tiff = mfile({
      mimetype: 'image/tiff',
      metadata: { renditions: { poster: rendition('p', { width: 420, height: 300 }), thumbnail: rendition('t') } },
    });
    expect(imageSource(tiff)).toMatchObject({ path: '/joboutputs/p/content', width: 420, what: 'poster' });
    expect(imageSource(mfile({ mimetype: 'image/tiff', metadata: { renditions: { thumbnail: rendition('t') } } }))).toMatchObject({
      path: '/joboutputs/t/content',
      what: 'thumbnail',
    });
    expect(imageSource(mfile({ mimetype: 'image/jpeg', size: 100 * 1024 * 1024, metadata: { renditions: { poster: rendition('p') } } }))?.what).toBe('poster');
    expect(imageSource(mfile({ mimetype: 'image/tiff' }))).toBeNull();
    expect(imageSource(tiff, false)).toBeNull(); // a key without joboutput:read cannot load renditions
  });

  it('plays the proxy with the poster, or a playable original when no proxy is coming', () => {
    const made = mfile({ mimetype: 'video/quicktime', metadata: { renditions: { proxy: rendition('x', { mimetype: 'video/mp4' }), poster: rendition('p') } } });
    expect(videoSources(made, false)).toMatchObject({ src: { path: '/joboutputs/x/content' }, poster: { path: '/joboutputs/p/content' }, playing: 'proxy' });
    expect(videoSources(mfile({ mimetype: 'video/mp4' }), true)).toEqual({ src: null, poster: null, playing: null });
    expect(videoSources(mfile({ mimetype: 'video/mp4' }), false)).toMatchObject({ src: { path: '/mfiles/f1/content' }, playing: 'original' });
    expect(videoSources(mfile({ mimetype: 'video/x-matroska' }), false).src).toBeNull();
    expect(videoSources({ ...made, mimetype: 'video/mp4' }, false, false)).toMatchObject({
      src: { path: '/mfiles/f1/content' },
      poster: null,
      playing: 'original',
    });
  });

  it('says the media facts in words', () => {
    expect(formatClock(65.4)).toBe('1:05');
    expect(formatClock(3723)).toBe('1:02:03');
    expect(formatClock(null)).toBeNull();
    const facts = mediaFacts({
      video: { duration: 2, format: 'mov', bitRate: 256000, video: { codec: 'h264', width: 640, height: 480, fps: 25 }, audio: null },
    });
    expect(facts).toEqual([
      { label: 'Duration', value: '0:02' },
      { label: 'Video', value: 'h264, 640 × 480, 25 fps' },
      { label: 'Bit rate', value: '256 kbit/s' },
    ]);
  });
});

describe('live jobs', () => {
  it('applies snapshots, state and progress events, never going back from a final state', () => {
    const queued = job('1', 'queued');
    const running = applyJobEvent(queued, { id: '1', state: 'running', progress: 0, at: '2025-01-01T00:00:01Z' });
    expect(running).toMatchObject({ state: 'running', startedAt: '2025-01-01T00:00:01Z' });
    const halfway = applyJobEvent(running, { id: '1', progress: 50 });
    expect(halfway.progress).toBe(50);
    expect(applyJobEvent(halfway, { id: '1', progress: 20 }).progress).toBe(50); // a late progress event does not go back
    const done = applyJobEvent(halfway, { id: '1', state: 'succeeded', progress: 99, error: null, at: '2025-01-01T00:00:03Z' });
    expect(done).toMatchObject({ state: 'succeeded', progress: 100, finishedAt: '2025-01-01T00:00:03Z' });
    expect(applyJobEvent(done, { id: '1', state: 'running' }).state).toBe('succeeded');
    const failed = applyJobEvent(running, { id: '1', state: 'failed', error: 'boom' });
    expect(failed).toMatchObject({ state: 'failed', error: 'boom' });
    const snapshot = applyJobEvent(queued, { ...job('1', 'running', { progress: 12 }) } as never);
    expect(snapshot).toMatchObject({ state: 'running', progress: 12 });
  });

  it('follows a few unfinished jobs at a time: running first, then queued, then waiting', () => {
    const jobs = [job('5', 'waiting'), job('1', 'succeeded'), job('4', 'queued'), job('3', 'running'), job('2', 'waiting'), job('6', 'queued')];
    expect(jobsToFollow(jobs, 3)).toEqual(['3', '4', '6']);
    expect(jobsToFollow(jobs, 10)).toEqual(['3', '4', '6', '2', '5']);
    expect(jobsToFollow([job('1', 'failed')], 3)).toEqual([]);
  });

  it('orders and times jobs', () => {
    const at = (second: number) => `2025-01-01T00:00:0${second}Z`;
    const jobs = [
      job('a', 'succeeded', { createdAt: at(0), startedAt: at(1) }),
      job('b', 'waiting', { createdAt: at(5) }),
      job('c', 'succeeded', { createdAt: at(5), startedAt: at(7) }),
      job('d', 'succeeded', { createdAt: at(5), startedAt: at(6) }),
      job('e', 'queued', { createdAt: at(9) }),
    ];
    // newest run first; inside a run, in the order its steps started, unstarted ones last
    expect(newestFirst(jobs).map((j) => j.id)).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(secondsBetween('2025-01-01T00:00:00Z', '2025-01-01T00:01:30Z')).toBe(90);
    expect(secondsBetween(null, '2025-01-01T00:01:30Z')).toBeNull();
  });
});
