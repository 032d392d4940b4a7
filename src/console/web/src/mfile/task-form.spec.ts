import { acceptsMimetype, buildJobRequest, checkField, errorsFromProblem, fieldsOf, groupTasks, initialValues, labelOf, QUEUE_FIELD } from './task-form';
import type { TaskDefinition } from './types';

// The api's own registry and option checker, so the form is tested against the schemas it will really be given
// (loaded through require: the console's tsconfig does not type-check server code).
declare const require: (path: string) => unknown;
const catalogue = require('../../../../tasks/task-catalogue') as {
  TASKS: Record<string, TaskDefinition>;
  resolveTaskOptions(task: TaskDefinition, given: Record<string, unknown> | undefined): { options: Record<string, unknown>; errors: string[] };
};
const registry = Object.values(catalogue.TASKS);
const task = (name: string) => registry.find((candidate) => candidate.name === name)!;

describe('task options form', () => {
  it('labels option names for people', () => {
    expect(labelOf('webhookId')).toBe('Webhook ID');
    expect(labelOf('crf')).toBe('CRF');
    expect(labelOf('url')).toBe('URL');
    expect(labelOf('at')).toBe('At');
    expect(labelOf('max_width')).toBe('Max width');
  });

  it('makes one field per option with its type, range, choices and default', () => {
    const fields = fieldsOf(task('thumbnail'));
    expect(fields.map((field) => field.name)).toEqual(['width', 'height', 'format', 'quality', 'fit']);
    expect(fields[0]).toMatchObject({ kind: 'number', integer: true, min: 8, max: 4096, step: '1', required: true, initial: '210', label: 'Width' });
    expect(fields[0].hint).toContain('8–4096');
    expect(fields[2]).toMatchObject({ kind: 'select', choices: ['jpeg', 'webp', 'png'], initial: 'jpeg' });
    expect(fields[4].hint).toContain('inside keeps the whole picture'); // backticks of the description dropped
    const poster = fieldsOf(task('video-poster'));
    expect(poster[0]).toMatchObject({ name: 'at', kind: 'number', integer: false, step: 'any', min: 0, max: 100, initial: '10' });
    const fetch = fieldsOf(task('fetch-url'));
    expect(fetch).toEqual([expect.objectContaining({ name: 'url', kind: 'text', required: true, initial: '', maxLength: 2000 })]);
    expect(fieldsOf(task('sha256'))).toEqual([]);
  });

  it('the defaults of every registered task make a request the api accepts as it is', () => {
    for (const definition of registry) {
      const fields = fieldsOf(definition);
      const values = initialValues(fields);
      const built = buildJobRequest(definition, ['m1'], values);
      if (fields.some((field) => field.required && field.initial === '')) {
        // a required free value (a URL, a webhook id) must be typed in
        expect(built.errors).not.toBeNull();
        continue;
      }
      expect(built.errors).toBeNull();
      expect(built.body).toEqual({ mfileIds: ['m1'], task: definition.name, options: expect.any(Object) });
      expect(catalogue.resolveTaskOptions(definition, built.body!.options).errors).toEqual([]);
    }
  });

  it('turns typed values into typed options and a queue override', () => {
    const values = { ...initialValues(fieldsOf(task('video-proxy'))), height: ' 360 ', crf: '30', [QUEUE_FIELD]: 'hardware.gpu' };
    expect(buildJobRequest(task('video-proxy'), ['a', 'b'], values)).toEqual({
      body: { mfileIds: ['a', 'b'], task: 'video-proxy', options: { height: 360, crf: 30, timeoutSeconds: 21_600 }, queue: 'hardware.gpu' },
      errors: null,
    });
    const poster = buildJobRequest(task('video-poster'), ['a'], { at: '12.5', width: '320', height: '200', timeoutSeconds: '60' });
    expect(poster.body?.options).toEqual({ at: 12.5, width: 320, height: 200, timeoutSeconds: 60 });
    expect(catalogue.resolveTaskOptions(task('video-poster'), poster.body!.options).errors).toEqual([]);
  });

  it('says what is wrong with each field, as the api would refuse it', () => {
    const result = buildJobRequest(task('thumbnail'), ['m'], { width: '', height: '1.5', format: 'gif', quality: '500', fit: 'inside', [QUEUE_FIELD]: 'fast' });
    expect(result.body).toBeNull();
    expect(result.errors).toEqual({
      width: 'Width is required',
      height: 'Height must be a whole number',
      format: 'Format must be one of jpeg, webp, png',
      quality: 'Quality must be between 1 and 100',
      [QUEUE_FIELD]: expect.stringMatching(/^Queue must be normal, priority or hardware/),
    });
    // and the api agrees on each of them
    const sent = catalogue.resolveTaskOptions(task('thumbnail'), { height: 1.5, format: 'gif', quality: 500 });
    expect(sent.errors).toHaveLength(3);
    const url = fieldsOf(task('fetch-url'))[0];
    expect(checkField(url, 'ftp://example.org/a')).toEqual({ error: 'URL is not in the expected form (an http:// or https:// address)' });
    expect(checkField(url, 'https://example.org/a')).toEqual({ value: 'https://example.org/a' });
    expect(checkField(url, `https://example.org/${'a'.repeat(2000)}`)).toEqual({ error: 'URL must be at most 2000 characters' });
    const webhook = fieldsOf(task('webhook'))[0];
    expect(checkField(webhook, 'not-an-id')).toMatchObject({ error: expect.stringContaining('36 characters') });
    expect(checkField(fieldsOf(task('video-poster'))[0], '1e1')).toEqual({ value: 10 });
    expect(checkField(fieldsOf(task('video-poster'))[0], '12abc')).toEqual({ error: 'At must be a number' });
  });

  it('the manual pipeline takes no options', () => {
    expect(buildJobRequest(null, ['m'], { [QUEUE_FIELD]: '' })).toEqual({ body: { mfileIds: ['m'], pipeline: 'manual' }, errors: null });
  });

  it('offers the tasks that fit the file first', () => {
    const { fitting, others } = groupTasks(registry, 'video/mp4');
    expect(fitting.map((definition) => definition.name)).toEqual(expect.arrayContaining(['video-proxy', 'video-poster', 'transcode', 'sha256']));
    expect(others.map((definition) => definition.name)).toEqual(expect.arrayContaining(['thumbnail', 'image-metadata']));
    expect(acceptsMimetype(task('thumbnail'), 'image/PNG; charset=binary')).toBe(true);
    expect(acceptsMimetype(task('thumbnail'), 'text/plain')).toBe(false);
  });

  it("puts the api's option errors back on their fields", () => {
    const fields = fieldsOf(task('thumbnail'));
    expect(
      errorsFromProblem(['options.width must be between 8 and 4096', 'queue must be normal, priority or hardware.<tag>', 'something else'], fields),
    ).toEqual({
      fieldErrors: { width: 'Width must be between 8 and 4096', [QUEUE_FIELD]: 'Queue must be normal, priority or hardware.<tag>' },
      rest: ['something else'],
    });
    expect(errorsFromProblem(undefined, fields)).toEqual({ fieldErrors: {}, rest: [] });
  });
});
