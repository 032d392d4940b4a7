import { Client, makeTenant } from '../support/client';
import { startTestApp, TestApp } from '../support/test-app';

/** Sub-keys never exceed their parent, and revoking a parent kills its whole subtree on the next request. */
describe('sub-key attenuation and revocation', () => {
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app.close());

  async function fileWithOwner() {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const upload = await customer.upload(tenant.serviceId, 'a.txt', new TextEncoder().encode('content'));
    return { tenant, customer, mfileId: upload.body.id as string, owner: admin.as(upload.body.key) };
  }

  it('refuses every widening of actions and names what was asked for', async () => {
    const { owner, mfileId } = await fileWithOwner();
    const readOnly = owner.as((await owner.post('/keys', { roles: ['mfilereadonly'] })).body.key);
    // mfilereadonly has no key:create at all
    const fromReadOnly = await readOnly.post('/keys', { roles: ['mfilereadonly'] });
    expect(fromReadOnly.status).toBe(403);
    expect(fromReadOnly.body.missingActions).toEqual(['key:create']);
    // the owner asks for actions it does not hold
    const escalate = await owner.post('/keys', { roles: ['serviceadmin'], resource: { type: 'mfile', id: mfileId } });
    expect(escalate.status).toBe(403);
    expect(escalate.body.missingActions).toEqual(expect.arrayContaining(['service:read', 'service:update', 'service:manage', 'mfile:create', 'mfolder:write']));
    const single = await owner.post('/keys', { actions: ['container:delete'] });
    expect(single.status).toBe(403);
    expect(single.body.missingActions).toEqual(['container:delete']);
    // a derived key can derive further only within its own (smaller) set
    const jobOnly = await owner.post('/keys', { actions: ['job:create', 'job:read', 'mfile:read', 'key:create'] });
    expect(jobOnly.status).toBe(201);
    const grandchild = await owner.as(jobOnly.body.key).post('/keys', { actions: ['mfile:write'] });
    expect(grandchild.status).toBe(403);
    expect(grandchild.body.missingActions).toEqual(['mfile:write']);
    expect((await owner.as(jobOnly.body.key).post('/keys', { actions: ['job:read'] })).status).toBe(201);
  });

  it('refuses unknown roles and actions with 400', async () => {
    const { owner } = await fileWithOwner();
    const reply = await owner.post('/keys', { roles: ['superuser'], actions: ['mfile:explode'] });
    expect(reply.status).toBe(400);
    expect(reply.body.unknownRoles).toEqual(['superuser']);
    expect(reply.body.unknownActions).toEqual(['mfile:explode']);
    expect((await owner.post('/keys', {})).status).toBe(400);
    // a resource is an object: an array (even an empty one, which nested validation walks into and passes) is refused
    for (const resource of [[], [[]]]) {
      const refused = await owner.post('/keys', { actions: ['mfile:read'], resource });
      expect([refused.status, refused.body.detail]).toEqual([400, expect.stringMatching(/resource must be an object/)]);
    }
    // names every object has are not roles (they were taken for one, and deriving failed with a 500)
    for (const role of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const inherited = await owner.post('/keys', { roles: [role] });
      expect([role, inherited.status, inherited.body.unknownRoles]).toEqual([role, 400, [role]]);
    }
  });

  it('refuses a wider scope: a parent resource, a sibling, another tenant', async () => {
    const { tenant, owner, customer } = await fileWithOwner();
    const up = await owner.post('/keys', { actions: ['mfile:read'], resource: { type: 'service', id: tenant.serviceId } });
    expect(up.status).toBe(403);
    expect(up.body.reason).toBe('scope');
    const sibling = await customer.upload(tenant.serviceId, 'sibling.txt', new TextEncoder().encode('s'));
    const sideways = await owner.post('/keys', { actions: ['mfile:read'], resource: { type: 'mfile', id: sibling.body.id } });
    expect(sideways.status).toBe(403);
    const other = await makeTenant(admin);
    const foreign = await customer.post('/keys', { actions: ['mfile:read'], resource: { type: 'service', id: other.serviceId } });
    expect(foreign.status).toBe(403);
    const provider = await customer.post('/keys', { actions: ['mfile:read'], resource: { type: 'provider', id: null } });
    expect(provider.status).toBe(403);
    // narrower is fine: a service key can make a key for one file in it
    const down = await customer.post('/keys', { roles: ['mfilereadonly'], resource: { type: 'mfile', id: sibling.body.id } });
    expect(down.status).toBe(201);
    expect(down.body.resource).toEqual({ type: 'mfile', id: sibling.body.id });
  });

  it('refuses a later expiry than the parent and inherits the parent expiry by default', async () => {
    const { owner } = await fileWithOwner();
    const soon = new Date(Date.now() + 3600_000);
    const parent = await owner.post('/keys', { actions: ['mfile:read', 'key:create'], expiresAt: soon.toISOString() });
    expect(parent.status).toBe(201);
    const child = owner.as(parent.body.key);
    const later = await child.post('/keys', { actions: ['mfile:read'], expiresAt: new Date(soon.getTime() + 1000).toISOString() });
    expect(later.status).toBe(403);
    expect(later.body.reason).toBe('expiry');
    const inherited = await child.post('/keys', { actions: ['mfile:read'] });
    expect(inherited.status).toBe(201);
    expect(new Date(inherited.body.expiresAt).getTime()).toBe(soon.getTime());
    const past = await owner.post('/keys', { actions: ['mfile:read'], expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect(past.status).toBe(400);
  });

  it('an expired key is refused with 401', async () => {
    const { owner, mfileId } = await fileWithOwner();
    const shortLived = await owner.post('/keys', { actions: ['mfile:read'], expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect((await owner.as(shortLived.body.key).get(`/mfiles/${mfileId}`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const after = await owner.as(shortLived.body.key).get(`/mfiles/${mfileId}`);
    expect(after.status).toBe(401);
    expect(after.body.detail).toContain('expired');
  });

  it('revoking a parent revokes its whole subtree at once, and nothing else', async () => {
    const { owner, mfileId } = await fileWithOwner();
    const child = await owner.post('/keys', { actions: ['mfile:read', 'key:create', 'key:read', 'key:revoke'] });
    const grandchild = await owner.as(child.body.key).post('/keys', { actions: ['mfile:read', 'key:create'] });
    const greatGrandchild = await owner.as(grandchild.body.key).post('/keys', { actions: ['mfile:read'] });
    const sibling = await owner.post('/keys', { actions: ['mfile:read'] });
    for (const key of [child, grandchild, greatGrandchild, sibling]) expect((await owner.as(key.body.key).get(`/mfiles/${mfileId}`)).status).toBe(200);

    const listed = await owner.get('/keys');
    expect(listed.body.items.map((key: { id: string }) => key.id)).toEqual(
      expect.arrayContaining([child.body.id, grandchild.body.id, greatGrandchild.body.id, sibling.body.id]),
    );

    const revoke = await owner.delete(`/keys/${child.body.id}`);
    expect(revoke.status).toBe(200);
    expect(revoke.body.revoked.sort()).toEqual([child.body.id, grandchild.body.id, greatGrandchild.body.id].sort());
    for (const key of [child, grandchild, greatGrandchild]) {
      const reply = await owner.as(key.body.key).get(`/mfiles/${mfileId}`);
      expect(reply.status).toBe(401);
    }
    expect((await owner.as(sibling.body.key).get(`/mfiles/${mfileId}`)).status).toBe(200);
    expect((await owner.get(`/mfiles/${mfileId}`)).status).toBe(200);
  });

  it('a key cannot see or revoke keys outside what it derived or could have minted', async () => {
    const a = await fileWithOwner();
    const b = await fileWithOwner();
    const bChild = await b.owner.post('/keys', { actions: ['mfile:read'] });
    expect((await a.owner.get(`/keys/${bChild.body.id}`)).status).toBe(404);
    expect((await a.owner.delete(`/keys/${bChild.body.id}`)).status).toBe(404);
    // a read-only key cannot revoke its parent
    const readOnly = await a.owner.post('/keys', { actions: ['mfile:read', 'key:revoke'] });
    const mfileownerKeyId = (await a.owner.get('/me')).body.id;
    expect((await a.owner.as(readOnly.body.key).delete(`/keys/${mfileownerKeyId}`)).status).toBe(404);
    // the service's customer key can revoke the owner key of a file in its service (it could have minted it)
    expect((await a.customer.delete(`/keys/${mfileownerKeyId}`)).status).toBe(200);
    expect((await a.owner.get('/me')).status).toBe(401);
  });

  it('a delegate with the same actions cannot revoke its delegator or any ancestor (issue 16, item 10)', async () => {
    const { tenant, customer, mfileId, owner } = await fileWithOwner();
    const customerKeyId = (await customer.get('/me')).body.id;
    const same = customer.as((await customer.post('/keys', { roles: ['servicecustomer'] })).body.key);
    const sameId = (await same.get('/me')).body.id;
    const deeper = customer.as((await same.post('/keys', { roles: ['servicecustomer'] })).body.key);
    for (const [presenter, targetId] of [
      [same, customerKeyId],
      [deeper, sameId],
      [deeper, customerKeyId],
    ] as const) {
      const reply = await presenter.delete(`/keys/${targetId}`);
      expect(reply.status).toBe(403);
      expect(reply.headers.get('content-type')).toContain('application/problem+json');
      expect(reply.body.reason).toBe('ancestor');
      expect(reply.body.detail).toBe(`the presented key was derived from key ${targetId}: a key cannot revoke the keys it was derived from`);
    }
    expect((await customer.get(`/services/${tenant.serviceId}`)).status).toBe(200);
    expect((await same.get('/me')).status).toBe(200);
    // downward and itself are still fine; so is revoking a key it could have minted (the file's owner key)
    const deeperId = (await deeper.get('/me')).body.id;
    expect((await same.delete(`/keys/${deeperId}`)).status).toBe(200);
    expect((await same.delete(`/keys/${(await owner.get('/me')).body.id}`)).status).toBe(200);
    expect((await owner.get(`/mfiles/${mfileId}`)).status).toBe(401);
    expect((await same.delete(`/keys/${sameId}`)).status).toBe(200);
    expect((await customer.get('/me')).status).toBe(200);
  });

  it('keys are stored hashed: the secret never appears in the database', async () => {
    const { owner } = await fileWithOwner();
    const child = await owner.post('/keys', { actions: ['mfile:read'] });
    const rows = await app.dataSource.query('SELECT * FROM key WHERE id = $1', [child.body.id]);
    expect(JSON.stringify(rows)).not.toContain(child.body.key);
    expect(rows[0].secret_hash).toMatch(/^[0-9a-f]{64}$/);
    const { createHash } = await import('node:crypto');
    expect(rows[0].secret_hash).toBe(createHash('sha256').update(child.body.key).digest('hex'));
  });

  it('presents keys as Bearer, ?key= and the Basic password; two different keys is a 400', async () => {
    const { owner, mfileId } = await fileWithOwner();
    const key = owner.key!;
    const basic = await fetch(`${app.api}/mfiles/${mfileId}`, { headers: { authorization: `Basic ${Buffer.from(`anyone:${key}`).toString('base64')}` } });
    expect(basic.status).toBe(200);
    expect((await fetch(`${app.api}/mfiles/${mfileId}?key=${key}`)).status).toBe(200);
    const other = await owner.post('/keys', { actions: ['mfile:read'] });
    const both = await fetch(`${app.api}/mfiles/${mfileId}?key=${other.body.key}`, { headers: { authorization: `Bearer ${key}` } });
    expect(both.status).toBe(400);
    expect((await fetch(`${app.api}/mfiles/${mfileId}`, { headers: { authorization: 'Bearer msk_short' } })).status).toBe(401);
    expect((await fetch(`${app.api}/mfiles/${mfileId}`, { headers: { authorization: 'Digest abc' } })).status).toBe(401);
  });
});

/** Issue 16, item 2: a key is only as alive as its whole chain, and a derive cannot outrun its parent's revocation. */
describe('derive racing revoke', () => {
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    // the race presents hundreds of revoked keys from one address on purpose: the per-address limit on failed keys
    // (KEY_FAILURES_PER_ADDRESS, tested in http-edge) would answer 429 before the invariant could be checked
    app = await startTestApp({ KEY_FAILURES_PER_ADDRESS: '100000' });
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app.close());

  async function owner() {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const upload = await customer.upload(tenant.serviceId, 'a.txt', new TextEncoder().encode('content'));
    return { mfileId: upload.body.id as string, owner: admin.as(upload.body.key) };
  }

  it('leaves no usable child of a parent revoked while 8 clients derive from it (10 rounds)', async () => {
    const { owner: ownerClient, mfileId } = await owner();
    const rounds = 10;
    const threads = 8;
    const perThread = 10; // bounded by count, not by time
    let derivedTotal = 0;
    let survivors = 0;
    for (let round = 0; round < rounds; round += 1) {
      const parent = await ownerClient.post('/keys', { roles: ['mfilereadonly'], actions: ['key:create'], label: `race parent ${round}` });
      expect(parent.status).toBe(201);
      const deriver = ownerClient.as(parent.body.key);
      const children: string[] = [];
      let revoked = false;
      const derives = Array.from({ length: threads }, async () => {
        for (let i = 0; i < perThread && !revoked; i += 1) {
          const child = await deriver.post('/keys', { roles: ['mfilereadonly'] });
          if (child.status === 201) children.push(child.body.key);
          else expect(child.status).toBe(401);
        }
      });
      // revoke somewhere in the middle of the derives (the round number spreads the moment)
      const revoke = (async () => {
        for (let wait = 0; wait < (round % 5) + 1; wait += 1) await ownerClient.get('/me');
        const reply = await ownerClient.delete(`/keys/${parent.body.id}`);
        expect(reply.status).toBe(200);
        revoked = true;
      })();
      await Promise.all([...derives, revoke]);
      derivedTotal += children.length;
      // the database: nothing under the revoked parent is left unrevoked
      const alive: Array<{ id: string }> = await app.dataSource.query(
        `WITH RECURSIVE tree AS (SELECT id FROM key WHERE id = $1 UNION SELECT k.id FROM key k JOIN tree t ON k.parent_id = t.id)
         SELECT id FROM key WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL`,
        [parent.body.id],
      );
      survivors += alive.length;
      // and over HTTP: no child is accepted, for /me or for content
      for (const child of children) {
        const me = await ownerClient.as(child).get('/me');
        const content = await ownerClient.as(child).get(`/mfiles/${mfileId}`);
        if (me.status !== 401 || content.status !== 401) survivors += 1;
      }
    }
    expect(derivedTotal).toBeGreaterThan(0);
    process.stderr.write(`derive/revoke race: ${derivedTotal} children derived, ${survivors} survived\n`);
    expect(survivors).toBe(0);
  });

  it('refuses a key whose grandparent was revoked, or expired, directly in the database', async () => {
    const { owner: ownerClient, mfileId } = await owner();
    const child = await ownerClient.post('/keys', { actions: ['mfile:read', 'key:create'] });
    const grandchild = await ownerClient.as(child.body.key).post('/keys', { actions: ['mfile:read', 'key:create'] });
    const greatGrandchild = await ownerClient.as(grandchild.body.key).post('/keys', { actions: ['mfile:read'] });
    expect((await ownerClient.as(greatGrandchild.body.key).get(`/mfiles/${mfileId}`)).status).toBe(200);

    // only the one row: a revocation that (by a bug or a restore) did not reach the subtree
    await app.dataSource.query('UPDATE key SET revoked_at = now() WHERE id = $1', [child.body.id]);
    const refused = await ownerClient.as(greatGrandchild.body.key).get(`/mfiles/${mfileId}`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body.detail).toBe(`the presented key was derived from key ${child.body.id}, which has been revoked`);
    // nor can it derive
    expect((await ownerClient.as(grandchild.body.key).post('/keys', { actions: ['mfile:read'] })).status).toBe(401);

    await app.dataSource.query("UPDATE key SET revoked_at = NULL, expires_at = now() - interval '1 second' WHERE id = $1", [child.body.id]);
    const expired = await ownerClient.as(greatGrandchild.body.key).get(`/mfiles/${mfileId}`);
    expect(expired.status).toBe(401);
    expect(expired.body.detail).toBe(`the presented key was derived from key ${child.body.id}, which has expired`);
    // the owner itself (above the dead key) is untouched
    expect((await ownerClient.get(`/mfiles/${mfileId}`)).status).toBe(200);
  });
});
