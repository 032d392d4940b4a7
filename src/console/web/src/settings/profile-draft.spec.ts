import { defaultProfile, validateProfile } from '../../../../pipelines/profile';
import { TASKS } from '../../../../tasks/task-catalogue';
import {
  addStep,
  changeTask,
  checkDraft,
  danglingAfter,
  definitionFromDraft,
  describeField,
  draftFromDefinition,
  notRemadeOnUpdate,
  emptyProfileDraft,
  fieldDomId,
  mapProfileErrors,
  moveStep,
  nextRuns,
  parseByteSize,
  parseOptionValue,
  ProfileDraft,
  removeStep,
  renameStep,
  stepLine,
  stepProblemCount,
  TaskInfo,
  uniqueStepName,
  updateStep,
} from './profile-draft';

// the registry as GET /api/v1/tasks serves it
const tasks = JSON.parse(JSON.stringify(Object.values(TASKS))) as TaskInfo[];

const chain = (): ProfileDraft => {
  const draft = emptyProfileDraft();
  let ingest = addStep(draft.ingest, 'mime');
  ingest = addStep(ingest, 'thumbnail');
  draft.ingest = ingest;
  return draft;
};

describe('profile editor model', () => {
  it('round-trips the default profile through the draft unchanged', () => {
    const { draft, ignored } = draftFromDefinition(defaultProfile());
    expect(ignored).toEqual([]);
    expect(draft.ingest.enabled).toBe(true);
    expect(draft.access.enabled).toBe(false);
    expect(draft.ingest.steps.find((step) => step.name === 'thumbnail')).toMatchObject({
      task: 'thumbnail',
      mimetypes: 'image/*',
      after: ['mime'],
      options: { width: '210', height: '128', format: 'jpeg' },
    });
    const body = definitionFromDraft(draft, tasks);
    expect(validateProfile(body)).toEqual(defaultProfile());
    expect(checkDraft(draft, tasks).all).toEqual([]);
  });

  it('keeps a periodic step without input (input: "none") through the draft', () => {
    const definition = {
      periodic: {
        schedule: '0 6 * * *',
        steps: [{ name: 'pull', task: 'fetch-url', input: 'none', options: { url: 'https://example.org/feed.json', folder: '/feeds', name: 'feed.json' } }],
      },
    };
    const { draft, ignored } = draftFromDefinition(definition);
    expect(ignored).toEqual([]);
    expect(validateProfile(definitionFromDraft(draft, tasks))).toEqual(validateProfile(definition));
  });

  it('lists what the form cannot keep from a pasted profile', () => {
    const { draft, ignored } = draftFromDefinition({ ingest: { steps: [{ task: 'md5', colour: 'red' }], extra: 1 }, sometimes: { steps: [] } });
    expect(ignored).toEqual(['ingest.extra', 'ingest.steps[0].colour', 'sometimes (not a trigger)']);
    // an unnamed step is named after its task, as the server names it
    expect(draft.ingest.steps[0].name).toBe('md5');
  });

  it('builds the request body: disabled triggers out, blank options left to their defaults, sizes with units', () => {
    const draft = chain();
    draft.ingest = updateStep(draft.ingest, 1, {
      options: { width: '320', height: '', format: 'webp' },
      mimetypes: 'image/jpeg, image/png',
      minSize: '1 KiB',
      maxSize: '5 MB',
      queue: 'priority',
    });
    draft.periodic = { enabled: true, schedule: ' 0 3 * * * ', steps: [] };
    expect(definitionFromDraft(draft, tasks)).toEqual({
      ingest: {
        steps: [
          { name: 'mime', task: 'mime' },
          {
            name: 'thumbnail',
            task: 'thumbnail',
            options: { width: 320, format: 'webp' },
            when: { mimetypes: ['image/jpeg', 'image/png'], minSize: 1024, maxSize: 5_000_000 },
            queue: 'priority',
            after: ['mime'],
          },
        ],
      },
      periodic: { schedule: '0 3 * * *', steps: [] },
    });
  });

  it('parses option values and sizes, passing on what does not parse for the validator to name', () => {
    expect(parseOptionValue(TASKS.thumbnail.options.width, ' 12 ')).toBe(12);
    expect(parseOptionValue(TASKS.thumbnail.options.width, 'wide')).toBe('wide');
    expect(parseOptionValue(TASKS.thumbnail.options.width, '')).toBeUndefined();
    expect(parseOptionValue(TASKS.thumbnail.options.format, 'png')).toBe('png');
    expect(parseOptionValue(undefined, '{"a":1}')).toEqual({ a: 1 });
    expect(parseByteSize('2.5 GiB')).toBe(2.5 * 1024 ** 3);
    expect(parseByteSize('100')).toBe(100);
    expect(parseByteSize('')).toBeUndefined();
    expect(parseByteSize('lots')).toBe('lots');
  });

  describe('validation shown next to the field', () => {
    it('a step that comes after a removed step: flagged at its dependencies', () => {
      let draft = chain();
      draft.ingest = addStep(draft.ingest, 'poster'); // after thumbnail
      draft.ingest = removeStep(draft.ingest, 1); // thumbnail goes; poster still names it
      expect(danglingAfter(draft.ingest, 1)).toEqual(['thumbnail']);
      const check = checkDraft(draft, tasks);
      expect(check.fields['ingest.steps[1].after']).toEqual(['“thumbnail” is not a step of this pipeline.']);
      expect(stepProblemCount(check, 'ingest', 1)).toBe(1);
      expect(stepProblemCount(check, 'ingest', 0)).toBe(0);
      draft = { ...draft, ingest: updateStep(draft.ingest, 1, { after: ['mime'] }) };
      expect(checkDraft(draft, tasks).all).toEqual([]);
    });

    it('a bad cron expression: flagged at the schedule; a missing one too', () => {
      const draft = emptyProfileDraft();
      draft.periodic = addStep({ enabled: true, schedule: '61 * * * *', steps: [] }, 'fixity');
      let check = checkDraft(draft, tasks);
      expect(check.fields['periodic.schedule']).toHaveLength(1);
      expect(check.fields['periodic.schedule'][0]).toMatch(/^"61 \* \* \* \*" is not a cron expression/);
      draft.periodic.schedule = '';
      check = checkDraft(draft, tasks);
      expect(check.fields['periodic.schedule'][0]).toMatch(/^Required: a cron expression/);
      draft.periodic.schedule = '0 3 * * *';
      expect(checkDraft(draft, tasks).all).toEqual([]);
    });

    it('options, conditions, queues and names: each on its own field', () => {
      const draft = chain();
      draft.ingest = updateStep(draft.ingest, 1, {
        options: { width: '5000', quality: 'good' },
        mimetypes: 'pictures',
        minSize: '10',
        maxSize: '5',
        queue: 'fast',
      });
      draft.ingest = renameStep(draft.ingest, 0, 'Mime Type');
      const check = checkDraft(draft, tasks);
      expect(check.fields['ingest.steps[1].options.width']).toEqual(['width must be between 8 and 4096']);
      expect(check.fields['ingest.steps[1].options.quality']).toEqual(['quality must be an integer']);
      expect(check.fields['ingest.steps[1].when.mimetypes'][0]).toMatch(/^mimetypes must be a non-empty array of types or globs/);
      expect(check.fields['ingest.steps[1].when']).toEqual(['MinSize is larger than maxSize']);
      expect(check.fields['ingest.steps[1].queue']).toEqual(['"fast" is not normal, priority or hardware.<tag>']);
      expect(check.fields['ingest.steps[0].name']).toEqual(['Use 1-100 lowercase letters, digits, - or _, starting with a letter or digit.']);
      // the rename carried the edge along: no "comes after" error
      expect(draft.ingest.steps[1].after).toEqual(['Mime Type']);
      expect(check.general).toEqual([]);
    });

    it('duplicate names, cycles and self-dependencies', () => {
      const draft = chain();
      draft.ingest = addStep(draft.ingest, 'md5');
      draft.ingest = updateStep(draft.ingest, 0, { after: ['md5'] }); // mime → md5 → thumbnail → mime
      draft.ingest = updateStep(draft.ingest, 2, { after: ['thumbnail'] });
      let check = checkDraft(draft, tasks);
      for (const index of [0, 1, 2]) expect(check.fields[`ingest.steps[${index}].after`]?.[0]).toMatch(/^Part of a cycle: /);
      draft.ingest = updateStep(draft.ingest, 0, { after: ['mime'] });
      check = checkDraft(draft, tasks);
      expect(check.fields['ingest.steps[0].after']).toEqual(['A step cannot come after itself.']);
      draft.ingest = renameStep(updateStep(draft.ingest, 0, { after: [] }), 2, 'mime');
      check = checkDraft(draft, tasks);
      expect(check.fields['ingest.steps[2].name']).toEqual(['"mime" is used twice in ingest']);
    });

    it('places the server’s 400 errors the same way, and keeps unknown ones in the summary', () => {
      const draft = chain();
      const check = mapProfileErrors(
        [
          'periodic.schedule "* * * * * *" is not a cron expression: it fires every 1 s; the minimum is 60 s (PERIODIC_MIN_INTERVAL_SECONDS)',
          'ingest.steps[1].options.width must be between 8 and 4096',
          'ingest.steps[0].input: only periodic steps can run without an input file (a ingest run starts from a file)',
          'ingest: step "thumbnail" comes after "gone", which is not a step of ingest',
          'ingest: step "vanished" comes after "gone", which is not a step of ingest',
          'ingest.steps has 51 steps; at most 50',
          'ingest.colour is not a pipeline property (steps, schedule)',
          'the profile must be an object',
        ],
        draft,
      );
      expect(check.fields['periodic.schedule'][0]).toMatch(/minimum is 60 s/);
      expect(check.fields['ingest.steps[1].options.width']).toEqual(['width must be between 8 and 4096']);
      expect(check.fields['ingest.steps[1].after']).toEqual(['“gone” is not a step of this pipeline.']);
      expect(check.fields['ingest.steps[0].input']).toHaveLength(1);
      expect(check.fields.ingest).toEqual([
        'Step “vanished” comes after "gone", which is not a step of ingest.',
        'ingest.colour is not a pipeline property (steps, schedule)',
      ]);
      expect(check.fields['ingest.steps']).toEqual(['Has 51 steps; at most 50']);
      expect(check.general).toEqual(['the profile must be an object']);
      expect(check.all).toHaveLength(8);
    });
  });

  describe('editing', () => {
    it('adds steps with unique names, each after the previous one', () => {
      let pipeline = addStep({ enabled: false, schedule: '', steps: [] }, 'md5');
      pipeline = addStep(pipeline, 'md5');
      expect(pipeline.enabled).toBe(true);
      expect(pipeline.steps.map((step) => [step.name, step.after])).toEqual([
        ['md5', []],
        ['md5-2', ['md5']],
      ]);
      expect(uniqueStepName('Video Poster!', [])).toBe('video-poster-');
      expect(uniqueStepName('', [])).toBe('step');
    });

    it('moves steps without touching their edges', () => {
      const draft = chain();
      const moved = moveStep(draft.ingest, 1, -1);
      expect(moved.steps.map((step) => step.name)).toEqual(['thumbnail', 'mime']);
      expect(moved.steps[0].after).toEqual(['mime']);
      expect(moveStep(draft.ingest, 0, -1)).toBe(draft.ingest);
    });

    it('changing the task resets the options and renames an auto-named step (edges follow)', () => {
      const draft = chain();
      draft.ingest = addStep(draft.ingest, 'md5'); // after thumbnail
      draft.ingest = updateStep(draft.ingest, 1, { options: { width: '99' } });
      draft.ingest = changeTask(draft.ingest, 1, 'poster');
      expect(draft.ingest.steps[1]).toMatchObject({ name: 'poster', task: 'poster', options: {} });
      expect(draft.ingest.steps[2].after).toEqual(['poster']);
      draft.ingest = renameStep(draft.ingest, 1, 'big-picture');
      draft.ingest = changeTask(draft.ingest, 1, 'thumbnail');
      expect(draft.ingest.steps[1].name).toBe('big-picture');
    });
  });

  it('shows the next runs of a schedule, in UTC', () => {
    const from = new Date('2026-03-10T12:00:00Z');
    expect(nextRuns('0 3 * * *', 2, from)?.map((date) => date.toISOString())).toEqual(['2026-03-11T03:00:00.000Z', '2026-03-12T03:00:00.000Z']);
    expect(nextRuns('nonsense', 2, from)).toBeNull();
    expect(nextRuns('* *', 2, from)).toBeNull();
  });

  it('says where a field is, and sums a step up in a line', () => {
    const draft = chain();
    expect(describeField('ingest.steps[1].options.width', draft)).toBe('Ingest › step 2 “thumbnail” › width');
    expect(describeField('ingest.steps[1].when.minSize', draft)).toBe('Ingest › step 2 “thumbnail” › smallest size');
    expect(describeField('periodic.schedule', draft)).toBe('Periodic › schedule');
    expect(describeField('manual', draft)).toBe('Manual');
    const thumbnail = updateStep(draft.ingest, 1, { options: { width: '210', height: '64' }, mimetypes: 'image/*', maxSize: '5 MiB', queue: 'priority' })
      .steps[1];
    expect(
      stepLine(
        thumbnail,
        tasks.find((task) => task.name === 'thumbnail'),
      ),
    ).toBe('thumbnail · height 64 · for image/*, ≤ 5 MiB · after mime · on priority');
    expect(
      stepLine(
        draft.ingest.steps[0],
        tasks.find((task) => task.name === 'mime'),
      ),
    ).toBe('mime · for any file · starts at once');
  });

  it('makes DOM ids from field keys', () => {
    expect(fieldDomId('ingest.steps[2].options.width')).toBe('pf-ingest-steps-2-options-width');
    expect(fieldDomId('periodic.schedule')).toBe('pf-periodic-schedule');
  });
});

describe('what a replace leaves unmade', () => {
  it('nothing with the default profile; what the update pipeline lacks of ingest otherwise', () => {
    const profile = defaultProfile();
    expect(notRemadeOnUpdate(draftFromDefinition(profile).draft)).toEqual([]);
    const older = { ...profile, update: { steps: profile.update!.steps.filter((step) => ['mime', 'thumbnail', 'poster'].includes(step.name)) } };
    expect(notRemadeOnUpdate(draftFromDefinition(older).draft)).toEqual(['image-metadata', 'video-metadata', 'video-poster', 'video-proxy', 'backup']);
    const noUpdate = { ingest: profile.ingest };
    expect(notRemadeOnUpdate(draftFromDefinition(noUpdate).draft)).toEqual([
      'image-metadata',
      'thumbnail',
      'poster',
      'video-metadata',
      'video-poster',
      'video-proxy',
      'backup',
    ]);
    expect(notRemadeOnUpdate(draftFromDefinition({}).draft)).toEqual([]);
  });
});
