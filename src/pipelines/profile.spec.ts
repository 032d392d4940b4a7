import { conditionMismatch, defaultProfile, findCycle, ProfileErrors, validateProfile } from './profile';

describe('profiles', () => {
  it('finds cycles, including long ones and self-loops, and none in a DAG', () => {
    expect(
      findCycle([
        { name: 'a', after: [] },
        { name: 'b', after: ['a'] },
        { name: 'c', after: ['a', 'b'] },
      ]),
    ).toBeUndefined();
    expect(
      findCycle([
        { name: 'a', after: ['c'] },
        { name: 'b', after: ['a'] },
        { name: 'c', after: ['b'] },
      ]),
    ).toEqual(['a', 'c', 'b', 'a']);
    expect(findCycle([{ name: 'a', after: ['a'] }])).toEqual(['a', 'a']);
    expect(
      findCycle([
        { name: 'x', after: [] },
        { name: 'a', after: ['b'] },
        { name: 'b', after: ['a'] },
      ]),
    ).toEqual(['a', 'b', 'a']);
  });

  it('conditions are data: mimetype globs and a size range', () => {
    expect(conditionMismatch(null, { mimetype: 'image/png', size: 1 })).toBeUndefined();
    expect(conditionMismatch({ mimetypes: ['image/*'] }, { mimetype: 'image/png', size: 1 })).toBeUndefined();
    expect(conditionMismatch({ mimetypes: ['image/*', 'video/mp4'] }, { mimetype: 'video/mp4', size: 1 })).toBeUndefined();
    expect(conditionMismatch({ mimetypes: ['image/*'] }, { mimetype: 'text/plain', size: 1 })).toBe('the input is text/plain, not image/*');
    expect(conditionMismatch({ minSize: 10 }, { mimetype: 'a/b', size: 9 })).toBe('the input has 9 bytes, fewer than 10');
    expect(conditionMismatch({ maxSize: 10 }, { mimetype: 'a/b', size: 11 })).toBe('the input has 11 bytes, more than 10');
    expect(conditionMismatch({ minSize: 10, maxSize: 10 }, { mimetype: 'a/b', size: 10 })).toBeUndefined();
  });

  it('the default profile is valid and stays the same through validation', () => {
    const profile = defaultProfile();
    expect(validateProfile(JSON.parse(JSON.stringify(profile)))).toEqual(profile);
  });

  it('names default to the task, options get their defaults, and every problem is listed', () => {
    expect(
      validateProfile({ ingest: { steps: [{ task: 'md5' }, { task: 'thumbnail', after: ['md5'] }] } }).ingest!.steps.map((step) => [step.name, step.options]),
    ).toEqual([
      ['md5', {}],
      ['thumbnail', { width: 210, height: 128, format: 'jpeg', quality: 80, fit: 'inside' }],
    ]);
    let errors: string[] = [];
    try {
      validateProfile({
        ingest: {
          steps: [
            { task: 'md5', name: 'Bad Name' },
            { task: 'md5', options: [] },
          ],
        },
        periodic: { steps: [] },
      });
    } catch (error) {
      errors = (error as ProfileErrors).errors;
    }
    expect(errors).toEqual([
      'ingest.steps[0].name must match /^[a-z0-9][a-z0-9_-]{0,99}$/',
      'ingest.steps[1].options must be an object',
      'periodic.schedule is required: a cron expression such as "0 3 * * *"',
    ]);
    expect(() => validateProfile([])).toThrow(ProfileErrors);
    expect(() => validateProfile({ ingest: { steps: [], schedule: '* * * * *' } })).toThrow('only the periodic pipeline has a schedule');
    expect(() => validateProfile({ periodic: { schedule: '* * * * * *', steps: [] } })).toThrow('it fires every 1 s; the minimum is 60 s');
    expect(validateProfile({ periodic: { schedule: '*/5 * * * * *', steps: [] } }, { minIntervalSeconds: 5 }).periodic!.schedule).toBe('*/5 * * * * *');
    expect(validateProfile({ periodic: { schedule: '0 3 * * *', steps: [] } }).periodic!.schedule).toBe('0 3 * * *');
  });

  it('names every object inherits are not options (they were accepted and silently dropped)', () => {
    expect(() => validateProfile({ ingest: { steps: [{ task: 'thumbnail', options: { constructor: 1 } }] } })).toThrow(
      'ingest.steps[0].options.constructor is not an option of thumbnail',
    );
    expect(() => validateProfile({ ingest: { steps: [{ task: 'md5', options: { toString: 'x' } }] } })).toThrow(
      'ingest.steps[0].options.toString is not an option of md5 (it has none)',
    );
  });
});
