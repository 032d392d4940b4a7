import { appWithWorker, FINAL_JOB_STATES, JobRow } from '../support/app-with-worker';
import { Client, makeTenant } from '../support/client';
import { dav, davPath, propfind } from '../support/dav';
import { eventually } from '../support/processes';

/**
 * Issue 16, the media slice, against the real api and a real worker process (ffmpeg and ffprobe as its children):
 * mime spoofing, playlists, pixel caps on video, cancel and time limits of ffmpeg, and what task errors may say.
 */
describe('media tasks: what an attacker with a customer key cannot make them do', () => {
  const env = appWithWorker('mserve-media-security-');

  const jobsOf = async (customer: Client, mfileId: string): Promise<JobRow[]> => (await customer.get(`/mfiles/${mfileId}/jobs`)).body.items;
  const settled = (customer: Client, mfileId: string) =>
    eventually(
      async () => {
        const jobs = await jobsOf(customer, mfileId);
        return jobs.length > 0 && jobs.every((job) => FINAL_JOB_STATES.includes(job.state)) ? jobs : undefined;
      },
      `the jobs of ${mfileId} to end`,
      120_000,
      200,
    );

  it('a text file named evil.jpg is stored and served as text, over REST and WebDAV, at upload and after the mime task', async () => {
    const { app, admin } = env;
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const script = Buffer.from('<html><script>alert(document.cookie)</script></html>\n');
    const rest = await customer.upload(tenant.serviceId, 'evil.jpg', script);
    expect(rest.status).toBe(201);
    expect(rest.body.mimetype).toBe('text/plain');
    expect((await dav(app.baseUrl, tenant.customerKey, 'PUT', davPath('evil-dav.jpg'), { body: script })).status).toBe(201);
    const viaDav = (await customer.get(`/services/${tenant.serviceId}/mfiles?name=evil-dav`)).body.items[0];
    expect(viaDav.mimetype).toBe('text/plain');
    for (const file of [rest.body, viaDav]) {
      const jobs = await settled(customer, file.id);
      const mime = jobs.find((job) => job.task === 'mime')!;
      expect(mime).toMatchObject({ state: 'succeeded', result: { mimetype: 'text/plain' } });
      // no image task took it for a picture
      expect(jobs.filter((job) => ['thumbnail', 'poster', 'image-metadata'].includes(job.task)).map((job) => job.state)).not.toContain('succeeded');
      expect((await customer.get(`/mfiles/${file.id}`)).body.mimetype).toBe('text/plain');
      const download = await customer.get(`/mfiles/${file.id}/content`);
      expect(download.headers.get('content-type')).toMatch(/^text\/plain/);
    }
    const davGet = await dav(app.baseUrl, tenant.customerKey, 'GET', davPath('evil.jpg'));
    expect(davGet.status).toBe(200);
    expect(davGet.headers['content-type']).toMatch(/^text\/plain/);
    const listed = await propfind(app.baseUrl, tenant.customerKey, '/dav/', '1');
    const types = listed.filter((entry) => /evil/.test(entry.href)).map((entry) => entry.prop('getcontenttype'));
    expect(types).toEqual(['text/plain', 'text/plain']);
  });
});
