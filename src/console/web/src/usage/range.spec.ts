import { bucketChoices, choiceFromQuery, choiceToQuery, parseUtcInput, presetBounds, quotaMonth, resolveRange, utcInput } from './range';

const at = (iso: string) => new Date(iso);
const bounds = (result: ReturnType<typeof resolveRange>) => (result.ok ? [result.from.toISOString(), result.to.toISOString(), result.buckets] : result.error);

describe('usage range presets', () => {
  const now = at('2026-03-10T12:34:56Z');

  it('last 24 hours by hour ends with the current hour', () => {
    expect(bounds(resolveRange({ preset: '24h', bucket: 'hour' }, now))).toEqual(['2026-03-09T13:00:00.000Z', '2026-03-10T13:00:00.000Z', 24]);
  });

  it('last 7 and 30 days by day end with today (UTC)', () => {
    expect(bounds(resolveRange({ preset: '7d', bucket: 'day' }, now))).toEqual(['2026-03-04T00:00:00.000Z', '2026-03-11T00:00:00.000Z', 7]);
    expect(bounds(resolveRange({ preset: '30d', bucket: 'day' }, now))).toEqual(['2026-02-09T00:00:00.000Z', '2026-03-11T00:00:00.000Z', 30]);
  });

  it('last 7 days by hour is 168 hours', () => {
    expect(bounds(resolveRange({ preset: '7d', bucket: 'hour' }, now))).toEqual(['2026-03-03T13:00:00.000Z', '2026-03-10T13:00:00.000Z', 168]);
  });

  it('last 12 months by month ends with this month; by day it starts on the 1st a year back', () => {
    expect(bounds(resolveRange({ preset: '12m', bucket: 'month' }, now))).toEqual(['2025-04-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z', 12]);
    expect(bounds(resolveRange({ preset: '12m', bucket: 'day' }, now))).toEqual(['2025-03-01T00:00:00.000Z', '2026-03-11T00:00:00.000Z', 375]);
  });

  it('at the very start of a bucket, that bucket is the current one', () => {
    expect(presetBounds('24h', 'hour', at('2026-03-10T00:00:00.000Z'))).toEqual({ from: at('2026-03-09T01:00:00Z'), to: at('2026-03-10T01:00:00Z') });
    expect(presetBounds('12m', 'month', at('2026-01-01T00:00:00.000Z'))).toEqual({ from: at('2025-02-01T00:00:00Z'), to: at('2026-02-01T00:00:00Z') });
  });

  it('refuses a bucket that does not suit the preset', () => {
    expect(resolveRange({ preset: '24h', bucket: 'month' }, now)).toMatchObject({ ok: false, field: 'bucket' });
    expect(resolveRange({ preset: '12m', bucket: 'hour' }, now)).toMatchObject({ ok: false, field: 'bucket' });
    expect(bucketChoices('7d')).toEqual(['hour', 'day']);
    expect(bucketChoices('custom')).toEqual(['hour', 'day', 'month']);
  });
});

describe('custom ranges', () => {
  const now = at('2026-03-10T12:00:00Z');

  it('covers whole buckets from the one holding the start to the one holding the end', () => {
    expect(bounds(resolveRange({ preset: 'custom', bucket: 'day', from: '2026-01-05T10:30', to: '2026-01-07T00:00' }, now))).toEqual([
      '2026-01-05T00:00:00.000Z',
      '2026-01-07T00:00:00.000Z',
      2,
    ]);
    expect(bounds(resolveRange({ preset: 'custom', bucket: 'month', from: '2025-11-15', to: '2026-02-02' }, now))).toEqual([
      '2025-11-01T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
      4,
    ]);
    expect(bounds(resolveRange({ preset: 'custom', bucket: 'hour', from: '2026-01-05T10:30', to: '2026-01-05T12:00' }, now))).toEqual([
      '2026-01-05T10:00:00.000Z',
      '2026-01-05T12:00:00.000Z',
      2,
    ]);
  });

  it('says which field is wrong', () => {
    expect(resolveRange({ preset: 'custom', bucket: 'day', to: '2026-01-07T00:00' }, now)).toMatchObject({ ok: false, field: 'from' });
    expect(resolveRange({ preset: 'custom', bucket: 'day', from: '2026-01-07T00:00', to: 'soon' }, now)).toMatchObject({ ok: false, field: 'to' });
    expect(resolveRange({ preset: 'custom', bucket: 'day', from: '2026-01-07T00:00', to: '2026-01-07T00:00' }, now)).toMatchObject({
      ok: false,
      field: 'to',
      error: 'the end must be after the start',
    });
  });

  it('refuses more buckets than a chart can show', () => {
    const result = resolveRange({ preset: 'custom', bucket: 'hour', from: '2025-01-01T00:00', to: '2026-01-01T00:00' }, now);
    expect(result).toMatchObject({ ok: false, field: 'bucket', error: expect.stringMatching(/^8760 hours is too many/) });
    expect(resolveRange({ preset: 'custom', bucket: 'day', from: '2025-01-01T00:00', to: '2026-01-01T00:00' }, now)).toMatchObject({ ok: true, buckets: 365 });
  });

  it('reads datetime-local values as UTC and refuses impossible dates', () => {
    expect(parseUtcInput('2026-02-28T23:59')).toEqual(at('2026-02-28T23:59:00Z'));
    expect(parseUtcInput('2026-02-28')).toEqual(at('2026-02-28T00:00:00Z'));
    expect(parseUtcInput('2026-02-31T00:00')).toBeNull();
    expect(parseUtcInput('2026-02-10T24:00')).toBeNull();
    expect(parseUtcInput('yesterday')).toBeNull();
    expect(utcInput(at('2026-02-28T23:59:30Z'))).toBe('2026-02-28T23:59');
  });
});

describe('the range in the query string', () => {
  it('defaults to the last 30 days by day', () => {
    expect(choiceFromQuery({})).toEqual({ preset: '30d', bucket: 'day' });
  });

  it('keeps a valid choice and replaces a bucket that does not suit the preset', () => {
    expect(choiceFromQuery({ range: '12m', bucket: 'day' })).toEqual({ preset: '12m', bucket: 'day' });
    expect(choiceFromQuery({ range: '12m', bucket: 'hour' })).toEqual({ preset: '12m', bucket: 'month' });
    expect(choiceFromQuery({ range: 'forever', bucket: 'hour' })).toEqual({ preset: '30d', bucket: 'hour' });
  });

  it('round-trips', () => {
    for (const choice of [
      { preset: '7d', bucket: 'hour' },
      { preset: 'custom', bucket: 'month', from: '2025-01-01T00:00', to: '2025-06-01T00:00' },
    ] as const) {
      expect(choiceFromQuery(choiceToQuery(choice))).toEqual(choice);
    }
  });
});

describe('quota month', () => {
  it('is the calendar month (UTC) holding now', () => {
    expect(quotaMonth(at('2026-12-31T23:59:59Z'))).toEqual({ from: at('2026-12-01T00:00:00Z'), to: at('2027-01-01T00:00:00Z') });
  });
});
