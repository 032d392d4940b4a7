import { containerChanges, fieldHint, limitFields, ManagedService, serviceChanges, serviceFields } from './manage-form';

const GiB = 1024 ** 3;
const service: ManagedService = {
  id: 's1',
  containerId: 'c1',
  name: 'photos',
  suspended: false,
  diskQuota: 5 * GiB,
  ingestQuota: null,
  jobruntimeQuota: 36_000,
  accessSpeed: 262_144,
  startsAt: '2026-01-01T00:00:30.000Z',
  endsAt: null,
  priority: false,
};

describe('service management form', () => {
  it('starts with the loaded values as text that reads back the same', () => {
    expect(serviceFields(service)).toEqual({
      diskQuota: '5 GiB',
      ingestQuota: '',
      jobruntimeQuota: '10 h',
      appQuotas: '',
      accessSpeed: '256 KiB/s',
      startsAt: '2026-01-01T00:00',
      endsAt: '',
      suspended: false,
      priority: false,
    });
    expect(serviceChanges(service, serviceFields(service))).toEqual({ body: {}, errors: {} });
    expect(serviceFields({ ...service, accessSpeed: 5000 }).accessSpeed).toBe('5000');
  });

  it('sends only what changed', () => {
    const fields = { ...serviceFields(service), diskQuota: '1 KiB', ingestQuota: '500 MB', suspended: true, priority: true };
    expect(serviceChanges(service, fields)).toEqual({ body: { diskQuota: 1024, ingestQuota: 500_000_000, suspended: true, priority: true }, errors: {} });
  });

  it('an emptied field lifts the limit (null)', () => {
    const fields = { ...serviceFields(service), diskQuota: '', jobruntimeQuota: 'unlimited', accessSpeed: '', startsAt: '' };
    expect(serviceChanges(service, fields).body).toEqual({ diskQuota: null, jobruntimeQuota: null, accessSpeed: null, startsAt: null });
  });

  it('names each field that is wrong, and sends nothing for it', () => {
    const fields = {
      ...serviceFields(service),
      diskQuota: '5 gigs',
      jobruntimeQuota: '10 GiB',
      accessSpeed: '100 B/s',
      startsAt: '2026-03-01T00:00',
      endsAt: '2026-02-01T00:00',
    };
    const result = serviceChanges(service, fields);
    expect(result.errors).toEqual({
      diskQuota: expect.stringMatching(/unknown unit "gigs"/),
      jobruntimeQuota: expect.stringMatching(/unknown unit "GiB"/),
      accessSpeed: expect.stringMatching(/at least 1 KiB\/s/),
      endsAt: 'the window must end after it starts',
    });
    expect(result.body).not.toHaveProperty('diskQuota');
    expect(result.body).not.toHaveProperty('accessSpeed');
    expect(serviceChanges(service, { ...serviceFields(service), endsAt: '2026-02-30T00:00' }).errors).toEqual({ endsAt: 'a date and time (UTC), or empty' });
  });

  it('sets a time window in UTC', () => {
    const fields = { ...serviceFields(service), startsAt: '2026-04-01T08:00', endsAt: '2026-04-30T18:30' };
    expect(serviceChanges(service, fields).body).toEqual({ startsAt: '2026-04-01T08:00:00.000Z', endsAt: '2026-04-30T18:30:00.000Z' });
  });
});

describe('quotas on application metrics', () => {
  const limited: ManagedService = { ...service, appQuotas: { views: 500, 'pages-rendered': 10_000 } };

  it('one metric a line, in name order; reads back the same; sends the whole map when it changes, null when emptied', () => {
    expect(serviceFields(limited).appQuotas).toBe('pages-rendered = 10000\nviews = 500');
    expect(serviceChanges(limited, serviceFields(limited))).toEqual({ body: {}, errors: {} });
    // reordered and spaced differently: the same limits, nothing to send
    expect(serviceChanges(limited, { ...serviceFields(limited), appQuotas: ' views: 500 \n\napp/pages-rendered=10_000' }).body).toEqual({});
    expect(serviceChanges(limited, { ...serviceFields(limited), appQuotas: 'views = 600\npages-rendered = 10000' }).body).toEqual({
      appQuotas: { views: 600, 'pages-rendered': 10_000 },
    });
    expect(serviceChanges(limited, { ...serviceFields(limited), appQuotas: '  ' }).body).toEqual({ appQuotas: null });
    expect(serviceChanges(service, { ...serviceFields(service), appQuotas: 'renders = 5' }).body).toEqual({ appQuotas: { renders: 5 } });
  });

  it("says which line is wrong, in the API's words for names and limits", () => {
    const errorOf = (appQuotas: string) => serviceChanges(service, { ...serviceFields(service), appQuotas }).errors.appQuotas;
    expect(errorOf('views 500')).toBe('line 1: write one metric per line as name = limit (e.g. pages-rendered = 10000)');
    expect(errorOf('views = 1\nviews = 2')).toBe('line 2: views is limited twice');
    expect(errorOf('bad!name = 1')).toMatch(/^the list has "bad!name", which is not a metric name/);
    expect(errorOf('views = -3')).toBe('the list limit of "views" must be a finite number ≥ 0');
  });
});

describe('container management form', () => {
  const container = { id: 'c1', name: 'acme', suspended: true, diskQuota: null, ingestQuota: 10 * GiB, jobruntimeQuota: null };

  it('round-trips and sends changes only', () => {
    expect(containerChanges(container, limitFields(container))).toEqual({ body: {}, errors: {} });
    expect(containerChanges(container, { ...limitFields(container), diskQuota: '2 TiB', suspended: false })).toEqual({
      body: { diskQuota: 2 * 1024 ** 4, suspended: false },
      errors: {},
    });
    expect(containerChanges(container, { ...limitFields(container), ingestQuota: 'lots' }).errors).toEqual({
      ingestQuota: expect.stringMatching(/not a size/),
    });
  });
});

describe('field hints', () => {
  it('spell out the parsed value', () => {
    expect(fieldHint('bytes', '5 GiB')).toBe('= 5,368,709,120 bytes');
    expect(fieldHint('rate', '256 KiB/s')).toBe('= 262,144 bytes per second');
    expect(fieldHint('seconds', '90 min')).toBe('= 5,400 seconds');
    expect(fieldHint('bytes', '')).toBe('no limit');
    expect(fieldHint('bytes', 'x')).toBeNull();
  });
});
