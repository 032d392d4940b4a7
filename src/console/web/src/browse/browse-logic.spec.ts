import { fileKind, matchesFilters, nameProblem, normaliseMimetypeFilter, previewOf } from './files';
import { appendPage, removeItem, replaceItem, upsertFirst } from './paging';
import { describeUploadProblem, pendingUploadOf, percent, problemFromResponse, shouldRetryUpload } from './upload-errors';
import { dirsOfRelativePath, foldersToCreate, isSystemJunk } from './upload-plan';

describe('keyset paging on the client', () => {
  const a = { id: 'a', v: 1 };
  const b = { id: 'b', v: 1 };
  const c = { id: 'c', v: 1 };

  it('appends the next page in order', () => {
    expect(appendPage([a, b], [c]).map((item) => item.id)).toEqual(['a', 'b', 'c']);
  });

  it('never shows an item twice: one put first early (an upload) keeps its place and takes the page copy', () => {
    const uploaded = { id: 'c', v: 1 };
    const shown = upsertFirst([a, b], uploaded);
    expect(shown.map((item) => item.id)).toEqual(['c', 'a', 'b']);
    const merged = appendPage(shown, [
      { id: 'c', v: 2 },
      { id: 'd', v: 1 },
    ]);
    expect(merged.map((item) => item.id)).toEqual(['c', 'a', 'b', 'd']);
    expect(merged[0].v).toBe(2);
  });

  it('replaces in place, puts a known item first only once, removes', () => {
    expect(upsertFirst([a, b], { id: 'b', v: 9 })).toEqual([a, { id: 'b', v: 9 }]);
    expect(replaceItem([a, b], { id: 'a', v: 5 })).toEqual([{ id: 'a', v: 5 }, b]);
    expect(replaceItem([a], { id: 'x', v: 5 })).toEqual([a]);
    expect(removeItem([a, b, c], 'b')).toEqual([a, c]);
  });
});

describe('files', () => {
  const rendition = (jobOutputId: string) => ({
    jobOutputId,
    jobId: 'j',
    mimetype: 'image/jpeg',
    size: 10,
    width: 210,
    height: 128,
    url: `/api/v1/joboutputs/${jobOutputId}/content`,
  });

  it('shows a thumbnail first, a poster when there is no thumbnail, nothing without renditions', () => {
    expect(previewOf({ metadata: { renditions: { poster: rendition('p'), thumbnail: rendition('t') } } })?.jobOutputId).toBe('t');
    expect(previewOf({ metadata: { renditions: { poster: rendition('p'), proxy: rendition('x') } } })?.jobOutputId).toBe('p');
    expect(previewOf({ metadata: { renditions: { proxy: rendition('x') } } })).toBeNull();
    expect(previewOf({ metadata: {} })).toBeNull();
  });

  it('names the kind of a file from its mimetype', () => {
    expect(fileKind('image/png')).toBe('image');
    expect(fileKind('video/mp4')).toBe('video');
    expect(fileKind('application/pdf')).toBe('pdf');
    expect(fileKind('application/zip')).toBe('archive');
    expect(fileKind('application/json')).toBe('text');
    expect(fileKind('application/octet-stream')).toBe('other');
  });

  it('turns typed type filters into the API form, and refuses what the API would', () => {
    expect(normaliseMimetypeFilter('')).toBe('');
    expect(normaliseMimetypeFilter(' Image ')).toBe('image/*');
    expect(normaliseMimetypeFilter('image/PNG')).toBe('image/png');
    expect(normaliseMimetypeFilter('video/*')).toBe('video/*');
    expect(normaliseMimetypeFilter('image/')).toBeNull();
    expect(normaliseMimetypeFilter('a b')).toBeNull();
  });

  it('filters like the API: name substring without case, mimetype exact or by type', () => {
    const file = { name: 'Holiday.JPG', mimetype: 'image/jpeg' };
    expect(matchesFilters(file, {})).toBe(true);
    expect(matchesFilters(file, { name: 'day.jp' })).toBe(true);
    expect(matchesFilters(file, { name: 'night' })).toBe(false);
    expect(matchesFilters(file, { mimetype: 'image/*' })).toBe(true);
    expect(matchesFilters(file, { mimetype: 'image/png' })).toBe(false);
    expect(matchesFilters(file, { mimetype: 'video/*' })).toBe(false);
  });

  it('checks names with the API rule before sending', () => {
    expect(nameProblem('photos')).toBeNull();
    expect(nameProblem('')).toMatch(/Enter/);
    expect(nameProblem('a/b')).toMatch(/\//);
    expect(nameProblem('..')).toMatch(/\.\./);
    expect(nameProblem(' x')).toMatch(/space/);
    expect(nameProblem('é'.repeat(128))).toMatch(/255 bytes/);
    expect(nameProblem('é'.repeat(127))).toBeNull();
  });
});

describe('upload errors', () => {
  it('shows the problem detail the api sent, not the client library message', () => {
    const body = JSON.stringify({
      type: 'insufficient-storage',
      title: 'Insufficient Storage',
      status: 507,
      detail: 'storing 10 more bytes would exceed the service disk quota (limit 5 bytes, 0 in use)',
    });
    const text = describeUploadProblem(problemFromResponse(507, body));
    expect(text).toBe('Insufficient Storage (507): storing 10 more bytes would exceed the service disk quota (limit 5 bytes, 0 in use)');
  });

  it('says when a monthly quota frees up again', () => {
    const body = JSON.stringify({
      title: 'Too Many Requests',
      detail: 'ingesting 1 more bytes would exceed the monthly ingest quota',
      retryAfterSeconds: 7200,
    });
    expect(describeUploadProblem(problemFromResponse(429, body))).toBe(
      'Too Many Requests (429): ingesting 1 more bytes would exceed the monthly ingest quota. Try again in 2 h.',
    );
    expect(describeUploadProblem(problemFromResponse(429, '{}', '90'))).toMatch(/Try again in 2 min\./);
  });

  it('explains a response that is not a problem', () => {
    expect(describeUploadProblem(problemFromResponse(502, '<html>Bad gateway</html>'))).toBe(
      'Server error (502): the server could not take the upload right now; retry in a moment',
    );
    expect(describeUploadProblem(problemFromResponse(400, 'Upload-Length is required'))).toBe('Error (400): Upload-Length is required');
    expect(describeUploadProblem(problemFromResponse(401, ''))).toMatch(/^Unauthorized \(401\): the session ended/);
  });

  it('retries a lost connection, a busy or out-of-step upload and server faults, never a quota or a refusal', () => {
    expect(shouldRetryUpload(0)).toBe(true);
    expect(shouldRetryUpload(423)).toBe(true);
    expect(shouldRetryUpload(409, 'offset-mismatch')).toBe(true);
    expect(shouldRetryUpload(409, 'conflict')).toBe(false);
    expect(shouldRetryUpload(500)).toBe(true);
    expect(shouldRetryUpload(503)).toBe(true);
    expect(shouldRetryUpload(507)).toBe(false);
    expect(shouldRetryUpload(429)).toBe(false);
    expect(shouldRetryUpload(403)).toBe(false);
    expect(shouldRetryUpload(404)).toBe(false);
  });

  it('recognises a name held by another unfinished upload, and nothing else', () => {
    const held = JSON.stringify({
      type: 'conflict',
      status: 409,
      detail: 'an upload of "a.jpg" into this folder is already in progress',
      existing: { type: 'upload', id: '0194-up' },
    });
    expect(pendingUploadOf(409, held)).toBe('0194-up');
    expect(pendingUploadOf(409, JSON.stringify({ type: 'conflict', existing: { type: 'mfile', id: 'm1' } }))).toBeNull();
    expect(pendingUploadOf(409, JSON.stringify({ type: 'offset-mismatch', offset: 3 }))).toBeNull();
    expect(pendingUploadOf(507, held)).toBeNull();
    expect(pendingUploadOf(409, 'not json')).toBeNull();
  });

  it('shows 100 % only when every byte is there', () => {
    expect(percent(0, 10)).toBe(0);
    expect(percent(999, 1000)).toBe(99);
    expect(percent(1000, 1000)).toBe(100);
    expect(percent(0, 0)).toBe(100);
  });
});

describe('folder uploads', () => {
  it('makes each folder once, parents first', () => {
    const files = [
      { file: 'a', dirs: ['photos', '2024', 'june'] },
      { file: 'b', dirs: ['photos'] },
      { file: 'c', dirs: [] },
      { file: 'd', dirs: ['photos', '2023'] },
    ];
    expect(foldersToCreate(files)).toEqual([['photos'], ['photos', '2023'], ['photos', '2024'], ['photos', '2024', 'june']]);
  });

  it('reads the folders of a picked file from its relative path and skips desktop bookkeeping', () => {
    expect(dirsOfRelativePath('photos/2024/a.jpg')).toEqual(['photos', '2024']);
    expect(dirsOfRelativePath('a.jpg')).toEqual([]);
    expect(isSystemJunk('.DS_Store')).toBe(true);
    expect(isSystemJunk('._a.jpg')).toBe(true);
    expect(isSystemJunk('a.jpg')).toBe(false);
  });
});
