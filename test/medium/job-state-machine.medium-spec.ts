import { ProblemError } from '../../src/common/problem';
import { UnitOfWork } from '../../src/database/unit-of-work';
import { Job, JobState } from '../../src/jobs/job.entity';
import { JobRepository } from '../../src/jobs/job.repository';
import { JobsModule } from '../../src/jobs/jobs.module';
import { JobsService } from '../../src/jobs/jobs.service';
import { Mfile } from '../../src/mfiles/mfile.entity';
import { JobOutbox } from '../../src/pipelines/job-outbox';
import { JobReconciler } from '../../src/pipelines/job-reconciler';
import { PipelinesModule } from '../../src/pipelines/pipelines.module';
import { PipelinesService } from '../../src/pipelines/pipelines.service';
import { jobIdsOf, messageIdOf, QueuedJob } from '../../src/queues/queue-catalogue';
import { QueueRegistry } from '../../src/queues/queue-registry';
import { MediumFactory, MediumService, newMediumService, Tenant } from '../support/medium';
import { eventually } from '../support/processes';

/**
 * The job state machine (waiting → queued → running → succeeded | failed | cancelled) as the pipelines service and
 * the job repository write it, against the real PostgreSQL (and the real Bull queues on Redis for dispatch).
 *
 *   first ──► second ──► third
 *     │
 *     └──► join ◄── side
 */
const PROFILE = {
  access: {
    steps: [
      { name: 'first', task: 'md5', after: [] },
      { name: 'second', task: 'sha256', after: ['first'] },
      { name: 'third', task: 'md5', after: ['second'] },
      { name: 'side', task: 'sha256', after: [] },
      { name: 'join', task: 'md5', after: ['first', 'side'] },
    ],
  },
};

describe('job state machine (medium)', () => {
  let medium: MediumService;
  let tenant: Tenant;
  let mfile: Mfile;
  let pipelines: PipelinesService;
  let jobs: JobRepository;

  beforeAll(async () => {
    medium = await newMediumService({ imports: [PipelinesModule, JobsModule] });
    const factory = new MediumFactory(medium);
    tenant = await factory.tenant();
    mfile = await factory.mfile(tenant);
    pipelines = medium.get(PipelinesService);
    jobs = medium.get(JobRepository);
    await pipelines.saveProfile(tenant.serviceId, PROFILE);
  });

  afterAll(async () => {
    await medium?.close();
  });

  /** One run of the access pipeline on the Mfile, as the api starts it: inside a unit of work, dispatched after commit. */
  async function run(): Promise<Record<string, string>> {
    const made = await medium.get(UnitOfWork).run((work) => pipelines.instantiate(work.manager, 'access', mfile, pipelines.outboxFor(work)));
    return Object.fromEntries(made.map((job) => [job.step!, job.id]));
  }

  async function states(ids: Record<string, string>): Promise<Record<string, JobState>> {
    const rows = await medium.dataSource.query('SELECT id, state FROM job WHERE id = ANY($1::uuid[])', [Object.values(ids)]);
    const byId = new Map<string, JobState>(rows.map((row: { id: string; state: JobState }) => [row.id, row.state]));
    return Object.fromEntries(Object.entries(ids).map(([step, id]) => [step, byId.get(id)!]));
  }

  async function row(id: string): Promise<Job> {
    return (await jobs.findById(id))!;
  }

  /** Records how a running job ended and settles its dependents in one transaction, as the worker's recorder does. */
  async function finish(
    id: string,
    state: JobState.Succeeded | JobState.Failed,
    error: string | null = null,
  ): Promise<{ recorded: boolean; outbox: JobOutbox }> {
    const outbox = new JobOutbox();
    const recorded = await medium.get(UnitOfWork).run(async ({ manager }) => {
      if (!(await jobs.recordOutcome(id, { state, result: state === JobState.Succeeded ? { ok: true } : null, error }, manager))) return false;
      await pipelines.settleDependents(manager, (await jobs.findById(id, manager))!, state, outbox);
      return true;
    });
    return { recorded, outbox };
  }

  it('instantiates one job per step with the profile edges; only jobs without prerequisites are queued and dispatched', async () => {
    const ids = await run();
    expect(Object.keys(ids).sort()).toEqual(['first', 'join', 'second', 'side', 'third']);
    expect(await states(ids)).toEqual({
      first: JobState.Queued,
      side: JobState.Queued,
      second: JobState.Waiting,
      third: JobState.Waiting,
      join: JobState.Waiting,
    });
    const edges: Array<{ job: string; prerequisite: string }> = await medium.dataSource.query(
      `SELECT j.step AS job, p.step AS prerequisite FROM job_dependency d JOIN job j ON j.id = d.job_id JOIN job p ON p.id = d.prerequisite_id
        WHERE d.job_id = ANY($1::uuid[]) ORDER BY 1, 2`,
      [Object.values(ids)],
    );
    expect(edges).toEqual([
      { job: 'join', prerequisite: 'first' },
      { job: 'join', prerequisite: 'side' },
      { job: 'second', prerequisite: 'first' },
      { job: 'third', prerequisite: 'second' },
    ]);
    const inputs = await jobs.inputsOf(Object.values(ids));
    expect(inputs.map((input) => input.id)).toEqual(Object.values(ids).map(() => mfile.id));
    const runIds = new Set((await Promise.all(Object.values(ids).map(row))).map((job) => job.runId));
    expect(runIds.size).toBe(1);
    // after commit, the queued jobs (and only they) are on their Bull queue: the runnable steps of one run on one
    // queue in one message, under an id of its own (`run-<first id>`)
    const first = await row(ids.first);
    const queue = medium.get(QueueRegistry).get(first.queue);
    const carried = [ids.first, ids.side].sort();
    expect((await queue.getJob(`run-${carried[0]}`))?.data).toEqual({ jobId: carried[0], jobIds: carried, runId: first.runId });
    for (const id of Object.values(ids)) expect(await queue.getJob(id)).toBeNull();
  });

  it('claims a queued job once: a waiting or finished job cannot be claimed; an outcome is recorded only while running', async () => {
    const ids = await run();
    expect(await jobs.claim(ids.second, 'medium:1')).toBeUndefined();
    expect((await row(ids.second)).state).toBe(JobState.Waiting);

    const claimed = await jobs.claim(ids.first, 'medium:1');
    expect(claimed).toMatchObject({ id: ids.first, task: 'md5', step: 'first', serviceId: tenant.serviceId, hasDependents: true });
    expect(claimed!.inputs.map((input) => input.id)).toEqual([mfile.id]);
    expect(Number(claimed!.inputs[0].size)).toBe(mfile.size);
    expect(await row(ids.first)).toMatchObject({ state: JobState.Running, attempts: 1, workerHost: 'medium:1' });
    expect((await jobs.claim(ids.side, 'medium:2'))?.hasDependents).toBe(true);

    expect(await jobs.recordOutcome(ids.first, { state: JobState.Succeeded, result: { md5: mfile.md5 }, error: null })).toBe(true);
    expect(await row(ids.first)).toMatchObject({ state: JobState.Succeeded, result: { md5: mfile.md5 }, progress: 100 });
    expect((await row(ids.first)).finishedAt).toBeInstanceOf(Date);
    // a redelivered message finds it finished: nothing to claim, nothing recorded twice
    expect(await jobs.claim(ids.first, 'medium:3')).toBeUndefined();
    expect(await jobs.recordOutcome(ids.first, { state: JobState.Failed, result: null, error: 'late' })).toBe(false);
    expect(await row(ids.first)).toMatchObject({ state: JobState.Succeeded, attempts: 1, workerHost: 'medium:1', error: null });
    // never claimed: not running, so no outcome either
    expect(await jobs.recordOutcome(ids.third, { state: JobState.Succeeded, result: null, error: null })).toBe(false);
    expect((await row(ids.third)).state).toBe(JobState.Waiting);
  });

  it('a success releases the dependents whose prerequisites all succeeded (waiting → queued), and only those', async () => {
    const ids = await run();
    await jobs.claim(ids.first, 'medium:1');
    const first = await finish(ids.first, JobState.Succeeded);
    expect(first.recorded).toBe(true);
    // second had only first; join still waits for side
    expect(first.outbox.items.map((job) => job.id)).toEqual([ids.second]);
    expect(await states(ids)).toMatchObject({ first: JobState.Succeeded, second: JobState.Queued, third: JobState.Waiting, join: JobState.Waiting });

    await jobs.claim(ids.side, 'medium:1');
    expect((await finish(ids.side, JobState.Succeeded)).outbox.items.map((job) => job.id)).toEqual([ids.join]);
    await jobs.claim(ids.second, 'medium:1');
    expect((await finish(ids.second, JobState.Succeeded)).outbox.items.map((job) => job.id)).toEqual([ids.third]);
    expect(await states(ids)).toEqual({
      first: JobState.Succeeded,
      side: JobState.Succeeded,
      second: JobState.Succeeded,
      third: JobState.Queued,
      join: JobState.Queued,
    });
  });

  it('a failure fails every waiting job downstream, naming the step that failed', async () => {
    const ids = await run();
    await jobs.claim(ids.first, 'medium:1');
    const { recorded, outbox } = await finish(ids.first, JobState.Failed, 'no bytes');
    expect(recorded).toBe(true);
    expect(outbox.items).toEqual([]);
    expect(outbox.events.map((event) => event.jobId).sort()).toEqual([ids.second, ids.third, ids.join].sort());
    expect(await states(ids)).toEqual({
      first: JobState.Failed,
      side: JobState.Queued,
      second: JobState.Failed,
      third: JobState.Failed,
      join: JobState.Failed,
    });
    expect((await row(ids.first)).error).toBe('no bytes');
    for (const step of ['second', 'third', 'join']) {
      const job = await row(ids[step]);
      expect(job.error).toBe(`dependency first (${ids.first}) failed`);
      expect(job.finishedAt).toBeInstanceOf(Date);
    }
  });

  it('cancel ends the job and its downstream jobs as cancelled, a message carrying it gives it no more, and a late outcome is dropped', async () => {
    const ids = await run();
    const queue = medium.get(QueueRegistry).get((await row(ids.first)).queue);
    const carried = [ids.first, ids.side].sort();
    expect(await queue.getJob(`run-${carried[0]}`)).not.toBeNull();
    await jobs.claim(ids.first, 'medium:1');

    const view = await medium.get(JobsService).cancel(ids.first);
    expect(view).toMatchObject({ id: ids.first, state: JobState.Cancelled });
    expect(await states(ids)).toEqual({
      first: JobState.Cancelled,
      side: JobState.Queued,
      second: JobState.Cancelled,
      third: JobState.Cancelled,
      join: JobState.Cancelled,
    });
    expect((await row(ids.first)).error).toBe('cancelled on request');
    expect((await row(ids.third)).error).toBe(`dependency first (${ids.first}) was cancelled`);
    // the message that carried it with `side` stays for `side`: claimed again, it gives `side` alone
    expect(await queue.getJob(`run-${carried[0]}`)).not.toBeNull();
    expect((await jobs.claimMany(carried, 'medium:2')).map((job) => job.id)).toEqual([ids.side]);
    // the worker that was running it finishes: its outcome is dropped
    expect((await finish(ids.first, JobState.Succeeded)).recorded).toBe(false);
    expect((await row(ids.first)).state).toBe(JobState.Cancelled);
    // a finished job cannot be cancelled
    const refusal = await medium
      .get(JobsService)
      .cancel(ids.first)
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ProblemError);
    expect(refusal).toMatchObject({ status: 409, extra: { state: JobState.Cancelled } });
  });

  it('giveUp fails a queued or running job once, never a waiting or finished one', async () => {
    const ids = await run();
    expect(await jobs.giveUp(ids.second, 'gave up: stalled')).toBeUndefined();
    expect((await row(ids.second)).state).toBe(JobState.Waiting);

    await jobs.claim(ids.first, 'medium:1');
    const outbox = new JobOutbox();
    const given = await medium.get(UnitOfWork).run(async ({ manager }) => {
      const job = await jobs.giveUp(ids.first, 'gave up: stalled', manager);
      if (job) await pipelines.settleDependents(manager, job, JobState.Failed, outbox);
      return job;
    });
    expect(given).toEqual({ id: ids.first, task: 'md5', step: 'first', serviceId: tenant.serviceId });
    expect(await row(ids.first)).toMatchObject({ state: JobState.Failed, error: 'gave up: stalled' });
    expect((await row(ids.join)).error).toBe(`dependency first (${ids.first}) failed`);
    expect(await jobs.giveUp(ids.first, 'gave up: again')).toBeUndefined();
    expect((await row(ids.first)).error).toBe('gave up: stalled');
    // a queued job that never ran can be given up too
    expect(await jobs.giveUp(ids.side, 'gave up: no worker')).toMatchObject({ id: ids.side });
    expect((await row(ids.side)).state).toBe(JobState.Failed);
  });

  it('retry puts a running job back to queued with the reason; the next claim is its second attempt', async () => {
    const ids = await run();
    await jobs.retry(ids.first, 'attempt 1 timed out');
    expect(await row(ids.first)).toMatchObject({ state: JobState.Queued, error: null, attempts: 0 });

    await jobs.claim(ids.first, 'medium:1');
    await jobs.retry(ids.first, 'attempt 1 timed out');
    expect(await row(ids.first)).toMatchObject({ state: JobState.Queued, error: 'attempt 1 timed out', attempts: 1 });
    expect(await jobs.claim(ids.first, 'medium:2')).toMatchObject({ id: ids.first });
    expect(await row(ids.first)).toMatchObject({ state: JobState.Running, attempts: 2, workerHost: 'medium:2' });
    expect((await finish(ids.first, JobState.Succeeded)).recorded).toBe(true);
    // retrying a finished job changes nothing
    await jobs.retry(ids.first, 'too late');
    expect(await row(ids.first)).toMatchObject({ state: JobState.Succeeded, attempts: 2 });
  });

  it('a run on bytes just received: mime and md5 written as facts, a chain through left-out steps rewired, metered, in one statement', async () => {
    // mime ──► md5 ──► pic (images only) ──► small (images only) ──► copy
    //   └──► check (verify: a real job)
    await pipelines.saveProfile(tenant.serviceId, {
      ...PROFILE,
      ingest: {
        steps: [
          { name: 'mime', task: 'mime' },
          { name: 'md5', task: 'md5', after: ['mime'] },
          { name: 'pic', task: 'image-metadata', when: { mimetypes: ['image/*'] }, after: ['md5'] },
          { name: 'small', task: 'thumbnail', when: { mimetypes: ['image/*'] }, after: ['pic'] },
          { name: 'copy', task: 'backup', after: ['small'] },
          { name: 'check', task: 'md5', verify: true, after: ['mime'] },
        ],
      },
    });
    const outbox = new JobOutbox();
    const made = await medium
      .get(UnitOfWork)
      .run(({ manager }) =>
        pipelines.instantiate(manager, 'ingest', mfile, outbox, { mimetype: 'text/plain', size: 10, fresh: { md5: 'f'.repeat(32), sha256: 'e'.repeat(64) } }),
      );
    const ids = Object.fromEntries(made.map((job) => [job.step!, job.id]));
    expect(Object.keys(ids).sort()).toEqual(['check', 'copy', 'md5', 'mime']);
    const rows = await Promise.all(Object.values(ids).map(row));
    const byStep = Object.fromEntries(rows.map((job) => [job.step!, job]));
    expect(byStep.mime).toMatchObject({ state: JobState.Succeeded, progress: 100, result: { mimetype: 'text/plain', previous: 'text/plain', changed: false } });
    expect(byStep.md5).toMatchObject({ state: JobState.Succeeded, result: { md5: 'f'.repeat(32), matchesRecorded: true }, attempts: 0, workerHost: null });
    expect(byStep.md5.finishedAt).not.toBeNull();
    // the prerequisites of the left-out pic and small stand in for them: copy comes after md5, a fact, so it is queued
    expect(byStep.copy.state).toBe(JobState.Queued);
    expect(byStep.check.state).toBe(JobState.Queued);
    const edges: Array<{ job: string; prerequisite: string }> = await medium.dataSource.query(
      `SELECT j.step AS job, p.step AS prerequisite FROM job_dependency d JOIN job j ON j.id = d.job_id JOIN job p ON p.id = d.prerequisite_id
        WHERE d.job_id = ANY($1::uuid[]) ORDER BY 1, 2`,
      [Object.values(ids)],
    );
    expect(edges).toEqual([
      { job: 'check', prerequisite: 'mime' },
      { job: 'copy', prerequisite: 'md5' },
      { job: 'md5', prerequisite: 'mime' },
    ]);
    // metered: a job each, and the facts' outcomes
    const usage: Array<{ metric: string; n: number }> = await medium.dataSource.query(
      'SELECT metric, count(*)::int AS n FROM usage WHERE resource_id = ANY($1::uuid[]) GROUP BY metric ORDER BY metric',
      [Object.values(ids)],
    );
    expect(usage).toEqual([
      { metric: 'jobs', n: 4 },
      { metric: 'task/md5/success', n: 1 },
      { metric: 'task/mime/success', n: 1 },
    ]);
    // dispatched: the runnable jobs; announced: the facts
    expect(outbox.items.map((job) => job.id).sort()).toEqual([ids.check, ids.copy].sort());
    expect(outbox.events.map((event) => [event.jobId, event.state]).sort()).toEqual(
      [
        [ids.md5, JobState.Succeeded],
        [ids.mime, JobState.Succeeded],
      ].sort(),
    );
    await pipelines.saveProfile(tenant.serviceId, PROFILE);
  });

  it('a periodic tick: one run without input for its steps with input "none" (no job_input, withoutInput), claimed with no inputs, reconciled like any', async () => {
    await pipelines.saveProfile(tenant.serviceId, {
      periodic: {
        schedule: '0 6 * * *',
        steps: [
          { name: 'pull', task: 'fetch-url', input: 'none', options: { url: 'https://example.org/a.json' } },
          { name: 'pull-b', task: 'fetch-url', input: 'none', options: { url: 'https://example.org/b.json' }, after: ['pull'] },
          { name: 'check', task: 'md5' },
        ],
      },
    });
    const before = new Date();
    await pipelines.runPeriodic(tenant.serviceId);
    const made: Array<{ id: string; step: string; state: JobState; run_id: string; without_input: boolean; inputs: number }> = await medium.dataSource.query(
      `SELECT j.id, j.step, j.state, j.run_id, j.without_input, (SELECT count(*)::int FROM job_input i WHERE i.job_id = j.id) AS inputs
         FROM job j WHERE j.service_id = $1 AND j.trigger = 'periodic' AND j.created_at >= $2 ORDER BY j.step`,
      [tenant.serviceId, before],
    );
    const byStep = Object.fromEntries(made.map((job) => [job.step, job]));
    // the steps without input: one run, no input, their edge kept; the step per file: a run of its own on the file
    expect(made.map((job) => [job.step, job.state, job.without_input, job.inputs])).toEqual([
      ['check', JobState.Queued, false, 1],
      ['pull', JobState.Queued, true, 0],
      ['pull-b', JobState.Waiting, true, 0],
    ]);
    expect(byStep.pull.run_id).toBe(byStep['pull-b'].run_id);
    expect(byStep.check.run_id).not.toBe(byStep.pull.run_id);
    // its message lost (Redis restarted empty, say): the reconciler puts it back, as any job's
    const normal = medium.get(QueueRegistry).get('normal');
    await (await normal.getJob(messageIdOf({ jobId: byStep.pull.id })))?.remove();
    await medium.dataSource.query("UPDATE job SET updated_at = now() - interval '1 minute' WHERE id = $1", [byStep.pull.id]);
    await medium.get(JobReconciler).reconcile();
    const carried = (await normal.getJobs(['waiting', 'delayed', 'paused'])).filter(Boolean).map((message) => (message.data as QueuedJob).jobId);
    expect(carried).toContain(byStep.pull.id);
    // claimed with no inputs, and known to have been made so; its success releases the next step of its run
    const [claimed] = await jobs.claimMany([byStep.pull.id], 'medium-test');
    expect(claimed).toMatchObject({ id: byStep.pull.id, withoutInput: true, inputs: [], hasDependents: true });
    await finish(byStep.pull.id, JobState.Succeeded);
    expect((await row(byStep['pull-b'].id)).state).toBe(JobState.Queued);
    await pipelines.saveProfile(tenant.serviceId, PROFILE);
  });

  it('the periodic look: a job unsettled for a whole interval (its dispatch lost, no process restarting) makes a pass that puts its message back', async () => {
    const ids = await run();
    const normal = medium.get(QueueRegistry).get('normal');
    const lost = ids.first;
    // the machine that committed it died before its dispatch reached Redis, and nothing restarts
    const messages = async () => (await normal.getJobs(['waiting', 'delayed', 'paused'])).filter(Boolean);
    for (const message of await messages()) if (jobIdsOf(message.data as QueuedJob).includes(lost)) await message.remove();
    const carried = async () => (await messages()).flatMap((message) => jobIdsOf(message.data as QueuedJob));
    expect(await carried()).not.toContain(lost);
    // younger than the interval: the look finds nothing that old
    expect(await jobs.anyQueuedFor(10 * 365 * 24 * 3600 * 1000)).toBe(false);
    await medium.dataSource.query("UPDATE job SET updated_at = now() - interval '10 minutes' WHERE id = $1", [lost]);
    expect(await jobs.anyQueuedFor(5 * 60 * 1000)).toBe(true);
    await medium.get(JobReconciler).lookForStale(5 * 60 * 1000);
    // the pass it started (not awaited by the look, as on its timer) puts the message back
    await eventually(async () => (await carried()).includes(lost), 'the lost message back on its queue', 10_000, 50);
  });
});
