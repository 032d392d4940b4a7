import { Readable } from 'node:stream';
import { JobOutput } from '../../src/job-outputs/job-output.entity';
import { BlobStore } from '../../src/storage/blob-store';
import { uuidv7 } from '../../src/database/uuid';
import { Client, makeTenant } from './client';
import { TestApp } from './test-app';

export const ROLE_KEYS = [
  'admin',
  'containeradmin',
  'serviceadmin',
  'servicecustomer',
  'mfileowner',
  'mfilereadwrite',
  'mfilereadonly',
  'jobowner',
  'jobreadonly',
  'outsider',
] as const;
export type RoleKey = (typeof ROLE_KEYS)[number];

/**
 * A small tenant with one of everything: container C → service S → root R → folder F → (subfolder Sub, mfile M);
 * job J on M with a file output O; and a key for every role at its natural resource, plus an outsider key from
 * another container. `ancestors` is written out by hand, independently of the resolver under test.
 */
export async function buildWorld(app: TestApp) {
  const admin = new Client(app.api, app.adminKey);
  const tenant = await makeTenant(admin);
  const customer = admin.as(tenant.customerKey);
  const folder = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'F' });
  const sub = await customer.post(`/mfolders/${folder.body.id}/mfolders`, { name: 'Sub' });
  const mfile = await customer.upload(tenant.serviceId, 'm.txt', new TextEncoder().encode('hello world\n'), `?folderId=${folder.body.id}`);
  const job = await customer.post('/jobs', { mfileIds: [mfile.body.id], task: 'md5' });
  if (folder.status !== 201 || sub.status !== 201 || mfile.status !== 201 || job.status !== 201)
    throw new Error(`world: ${folder.text} ${sub.text} ${mfile.text} ${job.text}`);
  // A file output, as a worker would record it (the output-producing tasks arrive with the task engine).
  const blob = await app.app.get(BlobStore).receive(Readable.from([Buffer.from('output bytes')]), { maxBytes: 1024 });
  const outputId = uuidv7();
  await app.dataSource.getRepository(JobOutput).insert({
    id: outputId,
    containerId: tenant.containerId,
    serviceId: tenant.serviceId,
    jobId: job.body.id,
    name: `out-${outputId.slice(-6)}.txt`,
    mimetype: 'text/plain',
    size: blob.size,
    sha256: blob.sha256,
    md5: blob.md5,
    blobKey: blob.blobKey,
    data: null,
    mfileId: null,
  });
  const owner = admin.as(mfile.body.key);
  const derive = async (from: Client, roles: string[], type: string, id: string) => {
    const reply = await from.post('/keys', { roles, resource: { type, id } });
    if (reply.status !== 201) throw new Error(`derive ${roles}: ${reply.text}`);
    return reply.body.key as string;
  };
  const outsider = await makeTenant(admin);
  const ids = {
    C: tenant.containerId,
    S: tenant.serviceId,
    R: tenant.rootFolderId,
    F: folder.body.id,
    Sub: sub.body.id,
    M: mfile.body.id,
    J: job.body.id,
    O: outputId,
  };
  const keys: Record<RoleKey, string> = {
    admin: app.adminKey,
    containeradmin: tenant.containerKey,
    serviceadmin: tenant.serviceAdminKey,
    servicecustomer: tenant.customerKey,
    mfileowner: mfile.body.key,
    mfilereadwrite: await derive(owner, ['mfilereadwrite'], 'mfile', ids.M),
    mfilereadonly: await derive(owner, ['mfilereadonly'], 'mfile', ids.M),
    jobowner: await derive(admin, ['jobowner'], 'job', ids.J),
    jobreadonly: await derive(admin, ['jobreadonly'], 'job', ids.J),
    outsider: outsider.containerKey,
  };
  const keyResource: Record<RoleKey, string | null> = {
    admin: null,
    containeradmin: ids.C,
    serviceadmin: ids.S,
    servicecustomer: ids.S,
    mfileowner: ids.M,
    mfilereadwrite: ids.M,
    mfilereadonly: ids.M,
    jobowner: ids.J,
    jobreadonly: ids.J,
    outsider: outsider.containerId,
  };
  const ancestors: Record<keyof typeof ids, string[]> = {
    C: [ids.C],
    S: [ids.C, ids.S],
    R: [ids.C, ids.S, ids.R],
    F: [ids.C, ids.S, ids.R, ids.F],
    Sub: [ids.C, ids.S, ids.R, ids.F, ids.Sub],
    M: [ids.C, ids.S, ids.R, ids.F, ids.M],
    J: [ids.C, ids.S, ids.R, ids.F, ids.M, ids.J],
    O: [ids.C, ids.S, ids.R, ids.F, ids.M, ids.J, ids.O],
  };
  const covers = (role: RoleKey, target: keyof typeof ids) => keyResource[role] === null || ancestors[target].includes(keyResource[role]!);
  return { admin, ids, keys, covers };
}

export type World = Awaited<ReturnType<typeof buildWorld>>;
