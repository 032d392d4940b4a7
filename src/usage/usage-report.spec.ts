import { addGrain, bucketStarts, buildSeries, ceilTo, coarsestTiling, countBuckets, figures, floorTo, mergeParts, Parts, toCsv } from './usage-report';

const at = (iso: string) => new Date(iso);
const HOUR = 3_600_000;

/** Parts of facts (value, time) for a span ending at `end`, computed the obvious way. */
function partsOf(facts: Array<[number, Date]>, end: Date): Parts {
  return facts.reduce<Parts>(
    (parts, [value, time]) => ({
      sum: parts.sum + value,
      count: parts.count + 1,
      min: parts.min === null ? value : Math.min(parts.min, value),
      max: parts.max === null ? value : Math.max(parts.max, value),
      sumSq: parts.sumSq + value * value,
      sumRest: parts.sumRest + (value * (end.getTime() - time.getTime())) / HOUR,
    }),
    { sum: 0, count: 0, min: null, max: null, sumSq: 0, sumRest: 0 },
  );
}

describe('usage report arithmetic', () => {
  it('buckets in UTC: floors, ceilings, months of different lengths, leap days', () => {
    expect(floorTo('month', at('2028-02-29T23:59:59.999Z')).toISOString()).toBe('2028-02-01T00:00:00.000Z');
    expect(addGrain('month', at('2028-02-01T00:00:00Z')).toISOString()).toBe('2028-03-01T00:00:00.000Z');
    expect(addGrain('month', at('2026-12-01T00:00:00Z')).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(floorTo('day', at('2026-03-29T01:30:00+02:00')).toISOString()).toBe('2026-03-28T00:00:00.000Z');
    expect(floorTo('hour', at('2026-03-29T01:30:00Z')).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(ceilTo('day', at('2026-03-29T00:00:00Z')).toISOString()).toBe('2026-03-29T00:00:00.000Z');
    expect(ceilTo('day', at('2026-03-29T00:00:00.001Z')).toISOString()).toBe('2026-03-30T00:00:00.000Z');
    expect(bucketStarts('month', at('2026-01-01T00:00Z'), at('2027-01-01T00:00Z'))).toHaveLength(12);
    expect(countBuckets('month', at('2026-01-01T00:00Z'), at('2027-01-01T00:00Z'))).toBe(12);
    expect(countBuckets('day', at('2028-01-01T00:00Z'), at('2029-01-01T00:00Z'))).toBe(366);
    expect(coarsestTiling(at('2026-01-01T00:00Z'), at('2026-03-01T00:00Z'))).toBe('month');
    expect(coarsestTiling(at('2026-01-01T00:00Z'), at('2026-03-05T00:00Z'))).toBe('day');
    expect(coarsestTiling(at('2026-01-01T00:00Z'), at('2026-03-05T07:00Z'))).toBe('hour');
  });

  it('statistics are those of the values: sum, count, min, max, mean, population stddev', () => {
    const start = at('2026-05-01T00:00Z');
    const end = addGrain('hour', start);
    const values = [2, 4, 4, 4, 5, 5, 7, 9];
    const parts = partsOf(
      values.map((value, index) => [value, new Date(start.getTime() + index * 60_000)]),
      end,
    );
    expect(figures(start, end, parts)).toMatchObject({ sum: 40, count: 8, min: 2, max: 9, mean: 5, stddev: 2 });
    expect(figures(start, end, partsOf([], end))).toMatchObject({ sum: 0, count: 0, min: null, max: null, mean: null, stddev: null });
  });

  it('merging parts of consecutive spans equals the parts of the union', () => {
    const t0 = at('2026-05-01T00:00Z');
    const facts: Array<[number, Date]> = [
      [10, at('2026-05-01T00:10Z')],
      [-3, at('2026-05-01T01:59Z')],
      [7, at('2026-05-01T02:30Z')],
      [1.5, at('2026-05-01T05:00Z')],
    ];
    const end = addGrain('hour', t0, 6);
    let merged: Parts = { sum: 0, count: 0, min: null, max: null, sumSq: 0, sumRest: 0 };
    for (const start of bucketStarts('hour', t0, end)) {
      const bucketEnd = addGrain('hour', start);
      merged = mergeParts(
        merged,
        partsOf(
          facts.filter(([, time]) => time >= start && time < bucketEnd),
          bucketEnd,
        ),
        bucketEnd,
        end,
      );
    }
    const direct = partsOf(facts, end);
    expect(merged.sum).toBeCloseTo(direct.sum, 9);
    expect(merged.sumRest).toBeCloseTo(direct.sumRest, 9);
    expect([merged.count, merged.min, merged.max]).toEqual([direct.count, direct.min, direct.max]);
  });

  it('a gauge integrates to byte-hours: level carried through empty buckets, changes weighted by the time left', () => {
    // 1000 bytes for the whole day, 500 more from 06:00, the 1000 gone at 12:00: 1000×12 + 500×18 = 21,000 byte-hours
    const day = at('2026-03-10T00:00Z');
    const changes: Array<[number, Date]> = [
      [500, at('2026-03-10T06:00Z')],
      [-1000, at('2026-03-10T12:00Z')],
    ];
    const byBucket = new Map<number, Parts>();
    for (const [value, time] of changes) {
      const start = floorTo('hour', time);
      byBucket.set(start.getTime(), partsOf([[value, time]], addGrain('hour', start)));
    }
    const series = buildSeries('disc', null, 'hour', day, addGrain('day', day), byBucket, 1000, true);
    expect(series.buckets).toHaveLength(24);
    expect(series.total).toMatchObject({ level: 500, levelHours: 21_000, sum: -500, count: 2 });
    expect(series.buckets[0]).toMatchObject({ level: 1000, levelHours: 1000, count: 0 });
    expect(series.buckets[6]).toMatchObject({ level: 1500, levelHours: 1500 });
    expect(series.buckets[12]).toMatchObject({ level: 500, levelHours: 500 });
    expect(series.buckets.reduce((sum, bucket) => sum + bucket.levelHours!, 0)).toBe(21_000);
    // a counter has neither level nor integral
    expect(buildSeries('ingest', null, 'hour', day, addGrain('hour', day), new Map(), undefined, true).buckets[0].level).toBeUndefined();
  });

  it("a total is the dense series' total, read from the buckets that hold something, over any range", () => {
    const day = at('2026-03-10T00:00Z');
    const byBucket = new Map<number, Parts>();
    for (const [value, time] of [
      [500, at('2026-03-10T06:10Z')],
      [-1000, at('2026-03-10T12:30Z')],
      [70, at('2026-03-10T23:59Z')],
    ] as Array<[number, Date]>) {
      const start = floorTo('hour', time);
      byBucket.set(start.getTime(), partsOf([[value, time]], addGrain('hour', start)));
    }
    const dense = buildSeries('disc', null, 'hour', day, addGrain('day', day), byBucket, 1000, true);
    const total = buildSeries('disc', null, 'hour', day, addGrain('day', day), byBucket, 1000, false);
    expect(total.buckets).toEqual([]);
    expect(total.total).toEqual(dense.total);
    // found by the REST fuzz: a total from now to the year 9999 by the hour walked ~70 million empty buckets and ran
    // the api out of memory; it now reads the three that hold something
    const far = buildSeries('disc', null, 'hour', day, at('9999-12-31T23:00Z'), byBucket, 1000, false);
    expect(far.total).toMatchObject({ sum: -430, count: 3, level: 570 });
  });

  it('CSV: a header, one line per bucket, quoting where needed', () => {
    const day = at('2026-03-10T00:00Z');
    const series = buildSeries('task/a,b/success', { type: 'service', id: 'x' }, 'day', day, addGrain('day', day, 2), new Map(), undefined, true);
    const lines = toCsv([series]).trimEnd().split('\r\n');
    expect(lines[0]).toBe('group_type,group_id,metric,start,end,sum,count,min,max,mean,stddev,level,level_hours');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe('service,x,"task/a,b/success",2026-03-10T00:00:00.000Z,2026-03-11T00:00:00.000Z,0,0,,,,,,');
  });
});
