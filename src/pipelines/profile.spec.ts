import { conditionMismatch, defaultProfile, findCycle, planRun, ProfileErrors, validateProfile, wantsBackupFact } from './profile';

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

  describe('steps without input (periodic, input: "none")', () => {
    const errorsOf = (profile: unknown, limits?: { minIntervalSeconds: number }): string[] => {
      try {
        validateProfile(profile, limits);
      } catch (error) {
        return (error as ProfileErrors).errors;
      }
      return [];
    };
    const periodic = (...steps: unknown[]) => ({ periodic: { schedule: '0 6 * * *', steps } });

    it('a periodic fetch-url without input: folder defaults to the root, name to the last segment of the URL', () => {
      const profile = validateProfile(
        periodic({ name: 'pull', task: 'fetch-url', input: 'none', options: { url: 'https://example.org/feeds/daily%20news.xml?x=1' } }),
      );
      expect(profile.periodic!.steps).toEqual([
        {
          name: 'pull',
          task: 'fetch-url',
          input: 'none',
          options: { url: 'https://example.org/feeds/daily%20news.xml?x=1', folder: '/', name: 'daily news.xml' },
          after: [],
        },
      ]);
      // the normalised profile validates to itself (what the api stores and answers)
      expect(validateProfile(JSON.parse(JSON.stringify(profile)))).toEqual(profile);
      // a folder path is cleaned of a trailing slash; a name given is kept (in NFC)
      const given = validateProfile(
        periodic({ task: 'fetch-url', input: 'none', options: { url: 'https://example.org/', folder: '/feeds/daily/', name: 'Cafe\u0301.json' } }),
      );
      expect(given.periodic!.steps[0].options).toEqual({ url: 'https://example.org/', folder: '/feeds/daily', name: 'Caf\u00e9.json' });
      // "file" is the default, written or not: the step runs once per file and is stored without input
      expect(validateProfile(periodic({ task: 'fixity', input: 'file' })).periodic!.steps[0]).toEqual({
        name: 'fixity',
        task: 'fixity',
        options: {},
        after: [],
      });
    });

    it('only periodic steps, only tasks that can, without a condition, never joined by after to a step per file', () => {
      expect(errorsOf({ manual: { steps: [{ task: 'fetch-url', input: 'none', options: { url: 'https://example.org/a.txt' } }] } })).toEqual([
        'manual.steps[0].input: only periodic steps can run without an input file (a manual run starts from a file)',
      ]);
      expect(errorsOf(periodic({ task: 'fixity', input: 'none' }))).toEqual([
        'periodic.steps[0].input: fixity reads an input file; only fetch-url can run without one',
      ]);
      expect(errorsOf(periodic({ task: 'fetch-url', input: 'nothing', options: { url: 'https://example.org/a.txt' } }))).toEqual([
        'periodic.steps[0].input must be "none" (once per tick, without an input file) or "file" (once per file, the default)',
      ]);
      expect(errorsOf(periodic({ task: 'fetch-url', input: 'none', options: { url: 'https://example.org/a.txt' }, when: { mimetypes: ['text/*'] } }))).toEqual([
        'periodic.steps[0].when: a step without input has no file to test (remove when)',
      ]);
      expect(
        errorsOf(
          periodic(
            { name: 'pull', task: 'fetch-url', input: 'none', options: { url: 'https://example.org/a.txt' } },
            { name: 'check', task: 'fixity', after: ['pull'] },
            { name: 'again', task: 'fetch-url', input: 'none', options: { url: 'https://example.org/b.txt' }, after: ['pull', 'check'] },
          ),
        ),
      ).toEqual([
        'periodic: step "check" runs once per file and cannot come after "pull", which runs once per tick without input (they are separate runs)',
        'periodic: step "again" runs once per tick without input and cannot come after "check", which runs once per file (they are separate runs)',
      ]);
      expect(errorsOf(periodic({ task: 'fetch-url', input: 'none', options: { url: 'https://example.org/a.txt' }, bogus: 1 }))).toEqual([
        'periodic.steps[0].bogus is not a step property (name, task, options, when, queue, after, verify, input)',
      ]);
    });

    it('the folder and name options: only without input, and valid names', () => {
      // with an input (the default), where the file goes is the input itself
      expect(errorsOf(periodic({ task: 'fetch-url', options: { url: 'https://example.org/a.txt', folder: '/feeds' } }))).toEqual([
        'periodic.steps[0].options.folder applies only to a step without input ("input": "none", periodic pipelines)',
      ]);
      expect(errorsOf({ manual: { steps: [{ task: 'fetch-url', options: { url: 'https://example.org/a.txt', name: 'a.txt' } }] } })).toEqual([
        'manual.steps[0].options.name applies only to a step without input ("input": "none", periodic pipelines)',
      ]);
      const none = (options: Record<string, unknown>) =>
        errorsOf(periodic({ task: 'fetch-url', input: 'none', options: { url: 'https://example.org/a.txt', ...options } }));
      expect(none({ folder: 'feeds' })).toEqual(['periodic.steps[0].options.folder must match ^/ (at most 4000 characters)']);
      expect(none({ folder: '/feeds//daily' })).toEqual(['periodic.steps[0].options.folder "/feeds//daily" must not contain an empty name (//)']);
      expect(none({ folder: '/feeds/../etc' })).toEqual(['periodic.steps[0].options.folder "/feeds/../etc" has a name that must not be . or ..: ".."']);
      expect(none({ name: 'a/b' })).toEqual(['periodic.steps[0].options.name must match ^[^/\\\\]+$ (at most 255 characters)']);
      expect(none({ name: '..' })).toEqual(['periodic.steps[0].options.name must not be . or ..']);
      expect(none({ name: ' padded' })).toEqual(['periodic.steps[0].options.name must not start or end with whitespace']);
      // no name, and none in the URL
      expect(errorsOf(periodic({ task: 'fetch-url', input: 'none', options: { url: 'https://example.org/feeds/' } }))).toEqual([
        "periodic.steps[0].options.name is required: the URL's path ends in no usable file name",
      ]);
      expect(errorsOf(periodic({ task: 'fetch-url', input: 'none', options: {} }))).toEqual(['periodic.steps[0].options.url is required']);
    });

    it('a periodic pipeline with both kinds plans them apart: the steps without input as one run, in their own order', () => {
      const profile = validateProfile(
        periodic(
          { name: 'pull', task: 'fetch-url', input: 'none', options: { url: 'https://example.org/a.txt' } },
          { name: 'check', task: 'fixity' },
          { name: 'pull-b', task: 'fetch-url', input: 'none', options: { url: 'https://example.org/b.txt' }, after: ['pull'] },
        ),
      );
      const withoutInput = profile.periodic!.steps.filter((step) => step.input === 'none');
      expect(planRun({ steps: withoutInput }).map((p) => [p.step.name, p.ready, p.after])).toEqual([
        ['pull', true, []],
        ['pull-b', false, ['pull']],
      ]);
    });
  });

  describe('planRun: conditions at instantiation, facts at commit', () => {
    const summary = (plan: ReturnType<typeof planRun>) =>
      Object.fromEntries(plan.map((p) => [p.step.name, `${p.fact ? 'fact' : p.ready ? 'ready' : 'waiting'} after [${p.after.join(',')}]`]));
    const fresh = (mimetype: string, size = 100) => ({ mimetype, size, fresh: { md5: 'a'.repeat(32), sha256: 'b'.repeat(64) } });

    it('the default ingest profile on a JPEG upload: mime and md5 facts, no video step, the rest runnable at once', () => {
      const plan = planRun(defaultProfile().ingest!, fresh('image/jpeg'));
      expect(summary(plan)).toEqual({
        mime: 'fact after []',
        md5: 'fact after [mime]',
        'image-metadata': 'ready after [mime]',
        thumbnail: 'ready after [mime]',
        poster: 'ready after [mime]',
        backup: 'ready after [md5]',
      });
      expect(plan.find((p) => p.step.name === 'mime')!.fact!.result).toEqual({ mimetype: 'image/jpeg', previous: 'image/jpeg', changed: false });
      expect(plan.find((p) => p.step.name === 'md5')!.fact!.result).toEqual({ md5: 'a'.repeat(32), matchesRecorded: true });
      // decided here: the jobs keep no condition to evaluate again
      expect(plan.every((p) => p.condition === null)).toBe(true);
    });

    it('a sha256 step on fresh bytes is a fact with the digest computed while streaming; asked to verify, it runs', () => {
      const steps = (verify?: boolean) =>
        validateProfile({
          ingest: {
            steps: [
              { task: 'sha256', ...(verify === undefined ? {} : { verify }) },
              { task: 'thumbnail', after: ['sha256'] },
            ],
          },
        }).ingest!;
      const plan = planRun(steps(), fresh('image/jpeg'));
      expect(summary(plan)).toEqual({ sha256: 'fact after []', thumbnail: 'ready after [sha256]' });
      expect(plan[0].fact!.result).toEqual({ sha256: 'b'.repeat(64), matchesRecorded: true });
      expect(summary(planRun(steps(true), fresh('image/jpeg')))).toEqual({ sha256: 'ready after []', thumbnail: 'waiting after [sha256]' });
      // a manual or periodic run has no new bytes: the digest is computed again
      expect(summary(planRun(steps(), { mimetype: 'image/jpeg', size: 100 }))).toEqual({ sha256: 'ready after []', thumbnail: 'waiting after [sha256]' });
    });

    it('a backup copy made before the commit makes the backup step a fact; asked to verify, it stays a job', () => {
      const backup = { sha256: 'b'.repeat(64), size: 100, created: true, at: '2026-12-07T00:00:00.000Z' };
      const known = { mimetype: 'text/plain', size: 100, fresh: { md5: 'a'.repeat(32), sha256: 'b'.repeat(64), backup } };
      const plan = planRun(defaultProfile().ingest!, known);
      expect(summary(plan)).toEqual({ mime: 'fact after []', md5: 'fact after [mime]', backup: 'fact after [md5]' });
      expect(plan.find((p) => p.step.name === 'backup')!.fact).toEqual({ result: { sha256: backup.sha256, size: 100, created: true }, backup });
      // the creator asks before making a copy: only where the step would be a fact
      expect(wantsBackupFact(planRun(defaultProfile().ingest!, fresh('text/plain')))).toBe(true);
      expect(wantsBackupFact(plan)).toBe(false);
      const asked = (step: Record<string, unknown>) =>
        validateProfile({
          ingest: {
            steps: [
              { name: 'sum', task: 'md5' },
              { name: 'copy', task: 'backup', after: ['sum'], ...step },
            ],
          },
        }).ingest!;
      for (const step of [{ verify: true }, { queue: 'priority' }]) {
        expect(wantsBackupFact(planRun(asked(step), fresh('text/plain')))).toBe(false);
        expect(summary(planRun(asked(step), known))).toEqual({ sum: 'fact after []', copy: 'ready after [sum]' });
      }
      // after a step that runs, the copy waits for it: not made at commit
      const late = validateProfile({
        ingest: {
          steps: [
            { name: 'pic', task: 'thumbnail' },
            { name: 'copy', task: 'backup', after: ['pic'] },
          ],
        },
      }).ingest!;
      expect(wantsBackupFact(planRun(late, fresh('text/plain')))).toBe(false);
      expect(summary(planRun(late, known))).toEqual({ pic: 'ready after []', copy: 'waiting after [pic]' });
    });

    it('a text file gets mime, md5 and backup only; a video its three video steps', () => {
      expect(Object.keys(summary(planRun(defaultProfile().ingest!, fresh('text/plain'))))).toEqual(['mime', 'md5', 'backup']);
      expect(summary(planRun(defaultProfile().ingest!, fresh('video/mp4')))).toMatchObject({
        'video-metadata': 'ready after [mime]',
        'video-poster': 'waiting after [video-metadata]',
        'video-proxy': 'waiting after [video-metadata]',
      });
    });

    it('without new bytes (manual, periodic, access) conditions still decide, but mime and md5 run', () => {
      // mime runs, and may change the type: what comes after it keeps its condition for run time
      const plan = planRun(defaultProfile().ingest!, { mimetype: 'text/plain', size: 5 });
      expect(plan).toHaveLength(9);
      expect(summary(plan)).toMatchObject({ mime: 'ready after []', md5: 'waiting after [mime]', backup: 'waiting after [md5]' });
      expect(plan.find((p) => p.step.name === 'thumbnail')!.condition).toEqual({ mimetypes: ['image/*'] });
      // no mime in the run: the stored type decides at once
      const manual = validateProfile({
        manual: {
          steps: [
            { name: 'check', task: 'fixity' },
            { name: 'small', task: 'thumbnail', when: { mimetypes: ['image/*'] }, after: ['check'] },
          ],
        },
      }).manual!;
      expect(summary(planRun(manual, { mimetype: 'text/plain', size: 5 }))).toEqual({ check: 'ready after []' });
      expect(summary(planRun(manual, { mimetype: 'image/png', size: 5 }))).toEqual({ check: 'ready after []', small: 'waiting after [check]' });
    });

    it('without knowing the input every step is made, conditions kept for run time', () => {
      const plan = planRun(defaultProfile().ingest!);
      expect(plan).toHaveLength(9);
      expect(plan.find((p) => p.step.name === 'thumbnail')!.condition).toEqual({ mimetypes: ['image/*'] });
    });

    it('a chain through left-out steps is rewired to their own prerequisites, transitively', () => {
      const profile = validateProfile({
        ingest: {
          steps: [
            { name: 'a', task: 'fixity' },
            { name: 'b', task: 'fixity' },
            { name: 'left1', task: 'image-metadata', when: { mimetypes: ['image/*'] }, after: ['a', 'b'] },
            { name: 'left2', task: 'thumbnail', when: { minSize: 1000 }, after: ['left1'] },
            { name: 'end', task: 'backup', after: ['left2', 'a'] },
            { name: 'alone', task: 'fixity', after: ['left1'] },
          ],
        },
      }).ingest!;
      expect(summary(planRun(profile, fresh('text/plain', 10)))).toEqual({
        a: 'ready after []',
        b: 'ready after []',
        end: 'waiting after [a,b]',
        alone: 'waiting after [a,b]',
      });
      // the same chain when the steps hold: nothing left out
      expect(Object.keys(summary(planRun(profile, fresh('image/png', 5000))))).toEqual(['a', 'b', 'left1', 'left2', 'end', 'alone']);
      // a left-out first step: its dependents have no prerequisite left, and run at once
      const first = validateProfile({
        ingest: {
          steps: [
            { name: 'pic', task: 'thumbnail', when: { mimetypes: ['image/*'] } },
            { name: 'sum', task: 'fixity', after: ['pic'] },
          ],
        },
      }).ingest!;
      expect(summary(planRun(first, fresh('text/plain')))).toEqual({ sum: 'ready after []' });
    });

    it('asking to run: verify, a queue of its own, or coming after a task that may change the bytes makes a real job', () => {
      const profile = validateProfile({
        ingest: {
          steps: [
            { name: 'mime', task: 'mime', verify: true },
            { name: 'md5', task: 'md5', queue: 'priority' },
            { name: 'fetch', task: 'fetch-url', options: { url: 'https://example.com/x' } },
            { name: 'sum', task: 'md5', after: ['fetch'] },
            { name: 'pic', task: 'thumbnail', when: { mimetypes: ['image/*'] }, after: ['mime'] },
          ],
        },
      }).ingest!;
      const plan = planRun(profile, fresh('text/plain'));
      expect(summary(plan)).toEqual({
        mime: 'ready after []',
        md5: 'ready after []',
        fetch: 'ready after []',
        sum: 'waiting after [fetch]',
        // after a mime that runs, the type may still change: the condition waits for run time
        pic: 'waiting after [mime]',
      });
      expect(plan.find((p) => p.step.name === 'pic')!.condition).toEqual({ mimetypes: ['image/*'] });
      // after a step that runs, an md5 waits for it (and fails with it) like any step
      const afterReal = validateProfile({
        ingest: {
          steps: [
            { name: 'picture', task: 'thumbnail' },
            { name: 'sum', task: 'md5', after: ['picture'] },
          ],
        },
      }).ingest!;
      expect(summary(planRun(afterReal, fresh('text/plain')))).toEqual({ picture: 'ready after []', sum: 'waiting after [picture]' });
      expect(() => validateProfile({ ingest: { steps: [{ task: 'fixity', verify: true }] } })).toThrow(/only mime, md5, sha256 and backup steps can be facts/);
      expect(() => validateProfile({ ingest: { steps: [{ task: 'md5', verify: 'yes' }] } })).toThrow(/verify must be true or false/);
    });
  });
});
