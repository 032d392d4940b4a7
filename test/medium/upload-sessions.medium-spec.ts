import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { ProblemError } from '../../src/common/problem';
import { RequestAuth } from '../../src/keys/authorize.decorator';
import { KeysService } from '../../src/keys/keys.service';
import { ResourceResolver } from '../../src/keys/resource-resolver.service';
import { MfileRepository } from '../../src/mfiles/mfile.repository';
import { BlobStore } from '../../src/storage/blob-store';
import { UploadSession } from '../../src/uploads/upload-session.entity';
import { UploadSessionRepository } from '../../src/uploads/upload-session.repository';
import { UploadSessionsService } from '../../src/uploads/upload-sessions.service';
import { UploadsModule } from '../../src/uploads/uploads.module';
import { adminKey, MediumFactory, MediumService, newMediumService, Tenant } from '../support/medium';

/**
 * Resumable uploads as the tus controller drives UploadSessionsService (create, then append chunks at the offset),
 * against the real PostgreSQL, the real content store in a temp dir and the real Redis upload lock.
 */
describe('upload sessions (medium)', () => {
  let medium: MediumService;
  let uploads: UploadSessionsService;
  let store: BlobStore;
  let tenant: Tenant;
  let auth: RequestAuth;

  beforeAll(async () => {
    medium = await newMediumService({ imports: [UploadsModule] });
    uploads = medium.get(UploadSessionsService);
    store = medium.get(BlobStore);
    tenant = await new MediumFactory(medium).tenant();
    // a servicecustomer key of the tenant, as the key guard would hand it to the controller
    const { secret } = await medium
      .get(KeysService)
      .derive(await adminKey(medium), { roles: ['servicecustomer'], resource: { type: 'service', id: tenant.serviceId } });
    const target = await medium.get(ResourceResolver).resolve({ type: 'service', id: tenant.serviceId });
    auth = { ...(await medium.get(KeysService).authenticate(secret)), target };
  });

  afterAll(async () => {
    await medium?.close();
  });

  const name = () => `upload-${Math.random().toString(36).slice(2, 10)}.bin`;

  /** A request body arriving in pieces of these sizes. */
  const body = (bytes: Buffer, pieces = 3) => {
    const size = Math.ceil(bytes.length / pieces);
    return Readable.from(Array.from({ length: pieces }, (_, index) => bytes.subarray(index * size, (index + 1) * size)).filter((piece) => piece.length));
  };

  async function refusal(promise: Promise<unknown>): Promise<ProblemError> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ProblemError);
    return error as ProblemError;
  }

  async function sessionRow(id: string): Promise<UploadSession | null> {
    return medium.get(UploadSessionRepository).findInService(id, tenant.serviceId);
  }

  it('appends chunks at the offset and completes into an Mfile with the right size, md5 and sha256', async () => {
    const bytes = randomBytes(2 * 1024 * 1024 + 12345); // more than one write batch
    const session = await uploads.create(auth, { protocol: 'tus', name: name(), length: bytes.length, metadata: { filename: 'x' } });
    expect(session).toMatchObject({ offset: 0, length: bytes.length, serviceId: tenant.serviceId, folderId: tenant.rootFolderId, completedAt: null });
    expect(statSync(store.partPath(session.id)).size).toBe(0);

    const cuts = [0, 1024 * 1024 + 7, 2 * 1024 * 1024 + 1, bytes.length];
    let progress;
    for (let index = 0; index < cuts.length - 1; index++) {
      progress = await uploads.append(auth, session, body(bytes.subarray(cuts[index], cuts[index + 1])), cuts[index], []);
      expect(progress.session.offset).toBe(cuts[index + 1]);
      if (index < cuts.length - 2) {
        expect(progress.mfile).toBeUndefined();
        expect((await sessionRow(session.id))?.offset).toBe(cuts[index + 1]);
      }
    }
    const md5 = createHash('md5').update(bytes).digest('hex');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(progress!.mfile).toMatchObject({ md5, sha256 });
    const mfile = await medium.get(MfileRepository).findById(progress!.mfile!.id);
    expect(mfile).toMatchObject({ size: bytes.length, md5, sha256, serviceId: tenant.serviceId, folderId: tenant.rootFolderId, name: session.name });
    expect((await store.readAll(mfile!.blobKey)).equals(bytes)).toBe(true);
    expect(await sessionRow(session.id)).toMatchObject({ mfileId: mfile!.id, offset: bytes.length });
    expect((await sessionRow(session.id))?.completedAt).toBeInstanceOf(Date);
    expect(existsSync(store.partPath(session.id))).toBe(false);
    // a completed upload takes no more bytes
    expect(await refusal(uploads.append(auth, session, body(Buffer.from('x')), bytes.length, []))).toMatchObject({ status: 409 });
  });

  it('refuses a chunk at the wrong offset (409 with the current offset) and keeps the bytes it has', async () => {
    const bytes = randomBytes(1000);
    const session = await uploads.create(auth, { protocol: 'tus', name: name(), length: bytes.length });
    await uploads.append(auth, session, body(bytes.subarray(0, 400)), 0, []);
    for (const offset of [0, 399, 401]) {
      const problem = await refusal(uploads.append(auth, session, body(bytes.subarray(offset)), offset, []));
      expect(problem).toMatchObject({ status: 409, code: 'offset-mismatch', extra: { offset: 400 } });
    }
    expect((await sessionRow(session.id))?.offset).toBe(400);
    expect(statSync(store.partPath(session.id)).size).toBe(400);
    // a chunk whose checksum does not match is not kept either
    const wrong = { algorithm: 'sha256' as const, expected: Buffer.alloc(32).toString('base64'), header: 'Upload-Checksum', status: 460 };
    expect(await refusal(uploads.append(auth, session, body(bytes.subarray(400)), 400, [wrong]))).toMatchObject({ status: 460, code: 'checksum-mismatch' });
    expect((await sessionRow(session.id))?.offset).toBe(400);
    const progress = await uploads.append(auth, session, body(bytes.subarray(400)), 400, []);
    expect(progress.mfile?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('does not write over progress another writer made while this chunk streamed (its lock lost, e.g. in a Redis failover): 409', async () => {
    const bytes = randomBytes(1000);
    const session = await uploads.create(auth, { protocol: 'tus', name: name(), length: bytes.length });
    await uploads.append(auth, session, body(bytes.subarray(0, 400)), 0, []);
    // the chunk's body arrives in two pieces; between them the row moves on without this request's lock
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = Readable.from(
      (async function* () {
        yield bytes.subarray(400, 500);
        await held;
        yield bytes.subarray(500, 600);
      })(),
    );
    const appending = uploads.append(auth, session, slow, 400, []);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await medium.dataSource.query('UPDATE upload_session SET "offset" = 450 WHERE id = $1', [session.id]);
    release();
    expect(await refusal(appending)).toMatchObject({ status: 409, detail: expect.stringMatching(/moved on meanwhile/) });
    expect((await sessionRow(session.id))?.offset).toBe(450);
  });

  it('refuses a second upload of the same name into the folder while one is in progress', async () => {
    const first = await uploads.create(auth, { protocol: 'tus', name: name(), length: 10 });
    const problem = await refusal(uploads.create(auth, { protocol: 'tus', name: first.name, length: 10 }));
    expect(problem).toMatchObject({ status: 409, extra: { existing: { type: 'upload', id: first.id } } });
  });

  it('terminate removes the session and its bytes', async () => {
    const session = await uploads.create(auth, { protocol: 'tus', name: name(), length: 100 });
    await uploads.append(auth, session, body(randomBytes(50)), 0, []);
    expect(existsSync(store.partPath(session.id))).toBe(true);
    await uploads.terminate(session);
    expect(await sessionRow(session.id)).toBeNull();
    expect(existsSync(store.partPath(session.id))).toBe(false);
    expect(await refusal(uploads.find(tenant.serviceId, session.id))).toMatchObject({ status: 404 });
  });

  it('removeExpired removes expired unfinished uploads and their bytes, and only those', async () => {
    const expired = await uploads.create(auth, { protocol: 'tus', name: name(), length: 100 });
    await uploads.append(auth, expired, body(randomBytes(30)), 0, []);
    const live = await uploads.create(auth, { protocol: 'tus', name: name(), length: 100 });
    // expire one as the clock would (other suites share this database: no sweep "as of the future")
    await medium.dataSource.query(`UPDATE upload_session SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    expect(await refusal(uploads.find(tenant.serviceId, expired.id))).toMatchObject({ status: 404 });

    expect(await uploads.removeExpired()).toBeGreaterThanOrEqual(1);
    expect(await sessionRow(expired.id)).toBeNull();
    expect(existsSync(store.partPath(expired.id))).toBe(false);
    expect(await sessionRow(live.id)).not.toBeNull();
    expect(existsSync(store.partPath(live.id))).toBe(true);
  });
});
