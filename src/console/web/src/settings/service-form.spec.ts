import { buildServicePatch, errorsToFields, nameProblem, propertiesDraft, validateProperties, validateWebhook } from './service-form';

describe('service settings forms', () => {
  const service = { name: 'photos', description: null, profile: null };

  it('checks names as the server does', () => {
    expect(nameProblem('holiday 2026')).toBeNull();
    expect(nameProblem('')).toMatch(/required/);
    expect(nameProblem('a/b')).toMatch(/\//);
    expect(nameProblem(' padded')).toMatch(/space/);
    expect(nameProblem('..')).toMatch(/\.\./);
    expect(nameProblem('é'.repeat(128))).toMatch(/255 bytes/);
    expect(nameProblem('tab\there')).toMatch(/control/);
  });

  it('validates the properties draft', () => {
    expect(validateProperties(propertiesDraft(service))).toEqual({});
    expect(
      validateProperties({ name: '', description: 'x'.repeat(4001), profile: '-bad', properties: [{ name: 'costCentre', type: 'number', value: 'abc' }] }),
    ).toEqual({
      name: expect.stringMatching(/required/),
      description: expect.stringMatching(/4000/),
      profile: expect.stringMatching(/profile name/),
      properties: 'Row 1: Enter a number, such as 42 or 0.5.',
    });
  });

  it('sends only what changed, and the profile only with service:manage', () => {
    expect(buildServicePatch(service, propertiesDraft(service), true)).toEqual({});
    expect(buildServicePatch(service, { name: 'pictures', description: 'ours', profile: 'photo-lab', properties: [] }, true)).toEqual({
      name: 'pictures',
      description: 'ours',
      profile: 'photo-lab',
    });
    expect(buildServicePatch(service, { name: 'photos', description: '', profile: 'photo-lab', properties: [] }, false)).toEqual({});
    expect(buildServicePatch({ ...service, profile: 'photo-lab' }, { name: 'photos', description: '', profile: '', properties: [] }, true)).toEqual({
      profile: null,
    });
  });

  it('sends the free-form properties whole when a row changed, and nothing when only the order did', () => {
    const kept = { ...service, properties: { department: 'news', costCentre: 4711 } };
    const draft = propertiesDraft(kept);
    expect(buildServicePatch(kept, draft, false)).toEqual({});
    expect(buildServicePatch(kept, { ...draft, properties: [...draft.properties].reverse() }, false)).toEqual({});
    expect(buildServicePatch(kept, { ...draft, properties: [...draft.properties, { name: 'archived', type: 'boolean', value: 'true' }] }, false)).toEqual({
      properties: { department: 'news', costCentre: 4711, archived: true },
    });
    expect(buildServicePatch(kept, { ...draft, properties: draft.properties.slice(1) }, false)).toEqual({ properties: { department: 'news' } });
  });

  it('places 400 messages on the fields they start with', () => {
    expect(
      errorsToFields(['name must not be empty', 'profile photo-lab does not exist', 'startsAt must be before endsAt'], ['name', 'description', 'profile']),
    ).toEqual({
      fields: { name: 'Must not be empty', profile: 'profile photo-lab does not exist' },
      general: ['startsAt must be before endsAt'],
    });
    expect(errorsToFields(['url: the host resolves to a private address'], ['url', 'events']).fields).toEqual({
      url: 'The host resolves to a private address',
    });
  });

  it('checks webhook addresses', () => {
    expect(validateWebhook({ url: 'https://example.org/hook', events: [] })).toEqual({});
    expect(validateWebhook({ url: '', events: [] }).url).toMatch(/required/);
    expect(validateWebhook({ url: 'example.org', events: [] }).url).toMatch(/full address/);
    expect(validateWebhook({ url: 'ftp://example.org/', events: [] }).url).toMatch(/http and https/);
    expect(validateWebhook({ url: 'https://user:pw@example.org/', events: [] }).url).toMatch(/user name/);
  });
});
