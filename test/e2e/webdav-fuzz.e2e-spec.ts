import { Agent } from 'node:http';
import { createConnection } from 'node:net';
import { Client, makeTenant } from '../support/client';
import { fuzzSeed, Rng } from '../support/rng';
import { dav, davPath, DavReply, lockBody, lockTokenOf, parseMultistatus, propfind, startApiProcess } from '../support/dav';
import { LAST_RESORT_MESSAGE } from '../../src/dav/dav.middleware';

/**
 * A seeded fuzz run against /dav/: a few thousand requests with generated and mutated XML bodies (PROPFIND,
 * PROPPATCH, LOCK), If/Depth/Overwrite/Destination/Timeout/Lock-Token headers, odd paths and credentials, over
 * keep-alive and fresh connections, plus raw malformed HTTP. Every request must get a well-formed answer that is not
 * a server error, and afterwards the api is alive and serves WebDAV normally.
 *
 * Reproduce a run with DAV_FUZZ_SEED=<seed printed in the log>; DAV_FUZZ_CASES changes the count (default 3000).
 */
const SEED = fuzzSeed(process.env.DAV_FUZZ_SEED);
const CASES = Number(process.env.DAV_FUZZ_CASES ?? 3000);

const XML = '<?xml version="1.0" encoding="utf-8"?>';
const PROPFIND_BODIES = [
  `${XML}<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`,
  `${XML}<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`,
  `${XML}<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontenttype/><D:getcontentlength/><D:resourcetype/><D:lockdiscovery/><D:supportedlock/><D:displayname/><D:getlastmodified/><D:creationdate/></D:prop></D:propfind>`,
  `${XML}<D:propfind xmlns:D="DAV:" xmlns:Z="urn:x-fuzz:"><D:prop><Z:color/><Z:missing/><D:quota-used-bytes/></D:prop></D:propfind>`,
  `${XML}<propfind xmlns="DAV:"><allprop/><include><lockdiscovery/></include></propfind>`,
  `<D:propfind xmlns:D="DAV:"><D:prop/></D:propfind>`,
];
const PROPPATCH_BODIES = [
  `${XML}<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-fuzz:"><D:set><D:prop><Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>`,
  `${XML}<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-fuzz:"><D:remove><D:prop><Z:color/></D:prop></D:remove></D:propertyupdate>`,
  `${XML}<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-fuzz:"><D:set><D:prop><Z:a>1</Z:a></D:prop></D:set><D:remove><D:prop><Z:a/></D:prop></D:remove><D:set><D:prop><Z:a>2</Z:a></D:prop></D:set></D:propertyupdate>`,
  `${XML}<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getcontentlength>1</D:getcontentlength><D:getetag>"x"</D:getetag></D:prop></D:set></D:propertyupdate>`,
  `${XML}<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-fuzz:"><D:set><D:prop><Z:xml><Z:child attr="v">text<Z:inner/></Z:child></Z:xml></D:prop></D:set></D:propertyupdate>`,
  `${XML}<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><nonamespace>v</nonamespace></D:prop></D:set></D:propertyupdate>`,
  `${XML}<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-fuzz:"><D:set><D:prop><Z:high>\u{10348}\u{1F600}é</Z:high></D:prop></D:set></D:propertyupdate>`,
];
const LOCK_BODIES = [
  lockBody('fuzz'),
  lockBody('fuzz', 'shared'),
  `${XML}<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`,
  `${XML}<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><x:who xmlns:x="urn:x-fuzz:">me <x:b>bold</x:b></x:who></D:owner></D:lockinfo>`,
  `${XML}<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/><D:exclusive/></D:lockscope><D:locktype><D:read/></D:locktype></D:lockinfo>`,
  '',
];
const BOMB = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>`;
const XXE = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY net SYSTEM "http://127.0.0.1:1/x">]>`;

type Mutation = (body: Buffer, rng: Rng) => Buffer;
const MUTATIONS: Record<string, Mutation> = {
  truncate: (body, rng) => body.subarray(0, rng.int(body.length + 1)),
  namespace: (body, rng) =>
    Buffer.from(body.toString().replace(/"DAV:"/g, `"${rng.pick(['', 'dav:', 'DAV', 'urn:x-other:', 'http://example.com/', 'DAV:\u0000'])}"`)),
  unboundPrefix: (body) => Buffer.from(body.toString().replace(/ xmlns:D="DAV:"/g, '')),
  hugeAttribute: (body, rng) => Buffer.from(body.toString().replace(/(<[A-Za-z][\w:]*)/, `$1 big="${'x'.repeat(1000 + rng.int(1_000_000))}"`)),
  manyAttributes: (body, rng) =>
    Buffer.from(body.toString().replace(/(<[A-Za-z][\w:]*)/, `$1 ${Array.from({ length: 1000 + rng.int(20_000) }, (_, i) => `a${i}="${i}"`).join(' ')}`)),
  deepNesting: (body, rng) => {
    const depth = 100 + rng.int(50_000);
    const nest = `${'<Z:n xmlns:Z="urn:z">'.repeat(depth)}${'</Z:n>'.repeat(depth)}`;
    const text = body.toString();
    return Buffer.from(
      text.includes('<D:prop>') ? text.replace('<D:prop>', `<D:prop>${nest}`) : `${XML}<D:propfind xmlns:D="DAV:"><D:prop>${nest}</D:prop></D:propfind>`,
    );
  },
  unclosedNesting: (_body, rng) => Buffer.from(`${XML}<D:propfind xmlns:D="DAV:">${'<D:prop>'.repeat(1 + rng.int(100_000))}`),
  entityBomb: (body) =>
    Buffer.from(
      `${BOMB}${body
        .toString()
        .replace(XML, '')
        .replace(/>([^<]*)</, '>&lol9;<')}`,
    ),
  entityBombOnly: () => Buffer.from(`${BOMB}<lolz>&lol9;</lolz>`),
  externalEntity: (body) =>
    Buffer.from(
      `${XXE}${body
        .toString()
        .replace(XML, '')
        .replace(/>([^<]*)</, '>&xxe;&net;<')}`,
    ),
  invalidUtf8: (body, rng) => {
    const at = rng.int(body.length + 1);
    return Buffer.concat([
      body.subarray(0, at),
      Buffer.from(rng.pick([[0xff], [0xfe, 0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]])),
      body.subarray(at),
    ]);
  },
  nul: (body, rng) => {
    const at = rng.int(body.length + 1);
    return Buffer.concat([body.subarray(0, at), Buffer.from([0]), body.subarray(at)]);
  },
  empty: () => Buffer.alloc(0),
  randomBytes: (_body, rng) => rng.bytes(rng.int(2000)),
  utf16Declared: (body) => Buffer.from(body.toString().replace('encoding="utf-8"', 'encoding="UTF-16"')),
  utf16Encoded: (body) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body.toString(), 'utf16le')]),
  bom: (body) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]),
  trailingGarbage: (body, rng) => Buffer.concat([body, Buffer.from(rng.pick(['<extra/>', 'garbage', '<?pi?>', '<!-- c -->', ']]>', '</D:propfind>']))]),
  cdataAndComments: (body) => Buffer.from(body.toString().replace(/></g, '><!-- comment --><![CDATA[ <not/> ]]><?pi data?><')),
  manySiblings: (body, rng) => Buffer.from(body.toString().replace(/(<D:prop>)/, `$1${'<D:getetag/>'.repeat(1000 + rng.int(50_000))}`)),
  swapTags: (body) =>
    Buffer.from(
      body
        .toString()
        .replace(/propfind|propertyupdate|lockinfo/, (tag) => ({ propfind: 'lockinfo', propertyupdate: 'propfind', lockinfo: 'propertyupdate' })[tag]!),
    ),
  json: () => Buffer.from('{"propfind":{"allprop":true}}'),
};
const MUTATION_NAMES = Object.keys(MUTATIONS);

const METHODS = ['PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'MKCOL', 'COPY', 'MOVE', 'PUT', 'GET', 'HEAD', 'DELETE', 'OPTIONS'] as const;
const ODD_METHODS = ['SEARCH', 'REPORT', 'ACL', 'PATCH', 'BIND', 'MKCALENDAR', 'FOO', 'TRACE-ISH', 'POST', 'ORDERPATCH', 'VERSION-CONTROL'];

interface FuzzCase {
  n: number;
  method: string;
  target: string;
  headers: Record<string, string>;
  body?: Buffer;
  mutations: string[];
  keepAlive: boolean;
  foreignDestination: boolean;
}

/** Request line and headers: past Node's 16 KiB limit the server answers 431 and closes, so a client still writing sees a reset. */
const headerBytes = (c: FuzzCase) =>
  c.method.length + c.target.length + Object.entries(c.headers).reduce((sum, [name, value]) => sum + name.length + Buffer.byteLength(value) + 4, 0);
const OVERSIZED = 16 * 1024 - 512;

const describeCase = (c: FuzzCase) => {
  const body = c.body ? `${c.body.length} bytes: ${JSON.stringify(c.body.subarray(0, 300).toString('latin1'))}${c.body.length > 300 ? '…' : ''}` : 'no body';
  const headers = Object.fromEntries(
    Object.entries(c.headers).map(([name, value]) => [name, value.length > 200 ? `${value.slice(0, 200)}… (${value.length} chars)` : value]),
  );
  return `#${c.n} ${c.method} ${c.target.length > 200 ? `${c.target.slice(0, 200)}… (${c.target.length} chars)` : c.target} headers=${JSON.stringify(headers)} mutations=[${c.mutations.join(',')}] ${c.keepAlive ? 'keep-alive' : 'fresh connection'} body=${body}`;
};

/** Sends raw bytes on a fresh TCP connection; resolves with whatever came back before the server closed (or 5 s passed: a request whose body never completes is, rightly, still being waited for). */
function rawExchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let received = '';
    const finish = () => {
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(finish, 5_000);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (/^HTTP\/1\.[01] \d{3}[^\r]*\r\n[\s\S]*?\r\n\r\n/.test(received) && !/content-length: [1-9]|transfer-encoding/i.test(received.split('\r\n\r\n')[0])) {
        clearTimeout(timer);
        finish();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(bytes);
  });
}

describe(`WebDAV fuzz (seed ${SEED}, ${CASES} cases)`, () => {
  let api: Awaited<ReturnType<typeof startApiProcess>>;

  beforeAll(async () => {
    // its garbage credentials must not get the fuzz's own address refused (KEY_FAILURES_PER_ADDRESS; test/e2e/http-edge tests that limit)
    api = await startApiProcess({ KEY_FAILURES_PER_ADDRESS: '1000000' });
  });
  afterAll(() => api.stop());

  it('answers every generated request with a well-formed non-5xx status, and keeps serving', async () => {
    console.log(`webdav fuzz: seed ${SEED} (reproduce with DAV_FUZZ_SEED=${SEED}), ${CASES} cases`);
    const admin = new Client(api.api, process.env.ADMIN_KEY);
    const tenant = await makeTenant(admin);
    const key = tenant.customerKey;
    const base = api.baseUrl;
    const port = Number(new URL(base).port);
    // a small tree to aim at
    const setup = [
      await dav(base, key, 'MKCOL', davPath('f')),
      await dav(base, key, 'PUT', davPath('f', 'a.txt'), { body: 'a' }),
      await dav(base, key, 'PUT', davPath('b.txt'), { body: 'b' }),
      await dav(base, key, 'PUT', davPath('locked.txt'), { body: 'locked' }),
    ];
    expect(setup.map((reply) => reply.status)).toEqual([201, 201, 201, 201]);
    const lock = await dav(base, key, 'LOCK', davPath('locked.txt'), {
      headers: { timeout: 'Second-3600', 'content-type': 'application/xml' },
      body: lockBody('fuzz-setup'),
    });
    expect(lock.status).toBe(200);
    const tokens = [lockTokenOf(lock)!];
    const etag = (await dav(base, key, 'GET', davPath('b.txt'))).headers.etag ?? '"none"';

    const rng = new Rng(SEED);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const fileTargets = ['/dav/b.txt', '/dav/f/a.txt', '/dav/locked.txt', '/dav/f/', '/dav/f'];
    const oddTargets = () =>
      rng.pick([
        '/dav/',
        '/dav',
        `/dav/new-${rng.int(20)}.txt`,
        `/dav/f/new-${rng.int(20)}`,
        '/dav/%ZZ',
        '/dav/%',
        '/dav/%00',
        '/dav/a%2Fb',
        '/dav/%ff%fe',
        '/dav/..',
        '/dav/f/../b.txt',
        '/dav/b.txt?query=1&key=nope',
        '/dav//',
        '/dav/.',
        '/dav/f/a.txt/',
        '/dav/b.txt/child',
        `/dav/${'x'.repeat(300)}`,
        `/dav/${'y/'.repeat(500)}z`,
        `/dav/${'%41'.repeat(3000)}`,
        '/dav/%c3%28',
        '/dav/%e2%82',
        '/dav/ünencoded'.replace('ü', '%C3%BC'),
        '/dav/;param',
        '/dav/f/%2e%2e/%2e%2e/',
      ]);
    const token = () =>
      rng.chance(0.8)
        ? rng.pick(tokens)
        : rng.pick([
            'opaquelocktoken:00000000-0000-0000-0000-000000000000',
            'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
            'DAV:no-lock',
            'opaquelocktoken:',
            'x',
          ]);
    const ifHeader = () => {
      const t = token();
      let value = rng.pick([
        `(<${t}>)`,
        `(<${t}> [${etag}])`,
        `<${base}/dav/locked.txt> (<${t}>)`,
        `</dav/locked.txt> (<${t}>) (Not <DAV:no-lock>)`,
        `(Not <${t}>)`,
        `(Not <DAV:no-lock>)`,
        `([${etag}])`,
        `(<DAV:no-lock>) (<${t}>)`,
        `<http://other.example/x> (<${t}>)`,
        `(<${t}>) (<${t}>) (<${t}>)`,
      ]);
      const edits = rng.int(4);
      for (let i = 0; i < edits; i++) {
        const at = rng.int(value.length + 1);
        const op = rng.int(6);
        if (op === 0) value = value.slice(0, at) + value.slice(at + 1);
        else if (op === 1) value = value.slice(0, at) + rng.pick(['(', ')', '<', '>', '[', ']', ' ', 'Not ', '"', ',', '\t']) + value.slice(at);
        else if (op === 2) value = value.slice(0, at);
        else if (op === 3) value = `${'('.repeat(1 + rng.int(10_000))}${value}`;
        else if (op === 4) value = value.repeat(1 + rng.int(500));
        else value = value.replace(/[0-9a-f]/, rng.pick(['g', 'Z', '-', '']));
        // past Node's 16 KiB header limit the answer is a 431 either way: a little past it is enough
        value = value.slice(0, 40_000);
      }
      return value;
    };
    const bodyFor = (method: string): { body?: Buffer; mutations: string[] } => {
      const source = method === 'PROPFIND' ? PROPFIND_BODIES : method === 'PROPPATCH' ? PROPPATCH_BODIES : method === 'LOCK' ? LOCK_BODIES : null;
      if (!source) {
        if (method === 'PUT') return { body: rng.chance(0.5) ? rng.bytes(rng.int(5000)) : Buffer.from(`fuzz put ${rng.int(1e9)}`), mutations: [] };
        if (rng.chance(0.2)) return { body: rng.chance(0.5) ? Buffer.from(rng.pick(PROPFIND_BODIES)) : rng.bytes(rng.int(500)), mutations: ['unexpectedBody'] };
        return { mutations: [] };
      }
      let body = Buffer.from(rng.pick(source));
      const mutations: string[] = [];
      const count = rng.chance(0.25) ? 0 : 1 + rng.int(3);
      for (let i = 0; i < count; i++) {
        const name = rng.pick(MUTATION_NAMES);
        mutations.push(name);
        body = Buffer.from(MUTATIONS[name](body, rng));
      }
      return { body: body.length || rng.chance(0.5) ? body : undefined, mutations };
    };
    let rootCopies = 0;
    const plainDestinations = new Set<string>();
    const inMount = () => {
      const n = rng.int(10);
      const choices = [
        `${base}/dav/dest-${n}.txt`,
        `/dav/dest-${n}`,
        `${base}/dav/f/`,
        `${base}/dav/b.txt`,
        `${base}/dav/`,
        `${base}/dav/dest%20with%20space-${n}`,
      ];
      for (const choice of choices) plainDestinations.add(choice);
      return choices;
    };

    const generate = (n: number): FuzzCase => {
      const method = rng.chance(0.04) ? rng.pick(ODD_METHODS) : rng.pick(METHODS);
      let target = rng.chance(0.6) ? rng.pick(fileTargets) : oddTargets();
      const isCopyMove = method === 'COPY' || method === 'MOVE';
      // a collection copied into itself would double the tree: only files and f/ are moved or copied, to the top level,
      // and the mount root at most three times in the run
      if (isCopyMove && (target === '/dav/' || target === '/dav')) target = rootCopies++ < 3 ? target : '/dav/b.txt';
      const headers: Record<string, string> = {};
      const { body, mutations } = bodyFor(method);
      if (rng.chance(0.7))
        headers['content-type'] = rng.pick([
          'application/xml; charset=utf-8',
          'text/xml',
          'text/xml; charset=iso-8859-1',
          'application/json',
          'multipart/form-data; boundary=x',
          'x/y/z',
          '',
        ]);
      if (rng.chance(0.6)) headers.depth = rng.pick(['0', '1', 'infinity', 'Infinity', '2', '-1', '', '1,0', ' 1 ', 'noninteger', '9'.repeat(30)]);
      if (isCopyMove ? rng.chance(0.9) : rng.chance(0.1)) {
        headers.destination = rng.pick([
          ...inMount(),
          `${base}/dav/../escape.txt`,
          `${base}/dav/%2e%2e/escape.txt`,
          `${base}/dav/%ZZ`,
          `${base}/api/v1/containers`,
          'http://other.example/dav/x',
          'ftp://127.0.0.1/dav/x',
          '::::',
          '',
          `${base}/dav/${'x'.repeat(10_000)}`,
        ]);
      }
      if (rng.chance(isCopyMove ? 0.6 : 0.1)) headers.overwrite = rng.pick(['T', 'F', 't', 'f', 'X', '', 'TF']);
      if (rng.chance(method === 'LOCK' ? 0.7 : 0.05))
        headers.timeout = rng.pick([
          'Infinite',
          'Second-0',
          'Second-10',
          'Second-4100000000',
          'Second-99999999999999999999',
          'Second--1',
          'Second-abc',
          'Infinite, Second-60',
          'Second-',
          'Minute-5',
          '',
          ', ,',
        ]);
      if (rng.chance(0.3)) headers.if = ifHeader();
      if (method === 'UNLOCK' ? rng.chance(0.9) : rng.chance(0.03)) {
        const t = token();
        headers['lock-token'] = rng.pick([`<${t}>`, t, `<${t}`, '<>', '', `<${t}> <${t}>`]);
      }
      if (rng.chance(0.05)) {
        headers.authorization = rng.pick([
          'Basic',
          'Basic ',
          'Basic !!!!',
          `Basic ${Buffer.from('no-colon').toString('base64')}`,
          `Basic ${Buffer.from(`x:${key}x`).toString('base64')}`,
          'Bearer msk_nope',
          `Digest username="x"`,
          `Basic ${'A'.repeat(20_000)}`,
        ]);
      }
      if (rng.chance(0.03)) headers['if-match'] = rng.pick([etag, '*', '"nope"', 'W/"x"', '']);
      if (rng.chance(0.03)) headers['if-none-match'] = rng.pick([etag, '*', '"nope"']);
      if (rng.chance(0.03)) headers.range = rng.pick(['bytes=0-0', 'bytes=5-1', 'bytes=-0', 'bytes=0-99999999999', 'bytes=a-b', 'items=1-2', 'bytes=0-1,3-4']);
      // RFC 4918 9.8.5/9.9.4: 502 when the destination is on another server or outside this URL namespace (the mount)
      const foreignDestination = headers.destination !== undefined && !plainDestinations.has(headers.destination);
      return { n, method, target, headers, body, mutations, keepAlive: rng.chance(0.5), foreignDestination };
    };

    const statuses: Record<string, Record<number | string, number>> = {};
    const failures: string[] = [];
    const slowest: Array<{ ms: number; what: string }> = [];
    let unanswered = 0;
    for (let n = 0; n < CASES && unanswered < 3; n++) {
      const c = generate(n);
      let reply: DavReply | undefined;
      const started = process.hrtime.bigint();
      // a generous bound, only so that a server that never answers ends the run with a report instead of hanging
      const send = (keepAlive: boolean) =>
        dav(base, c.headers.authorization ? undefined : key, c.method, c.target, {
          headers: c.headers,
          body: c.body,
          agent: keepAlive ? agent : false,
          timeoutMs: 180_000,
        });
      try {
        try {
          reply = await send(c.keepAlive);
        } catch (error) {
          // a reused keep-alive connection the server had just closed: a client sends again on a fresh one
          if (!c.keepAlive || !['ECONNRESET', 'EPIPE'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
          statuses['keep-alive resent'] ??= {};
          statuses['keep-alive resent'].count = (statuses['keep-alive resent'].count ?? 0) + 1;
          reply = await send(false);
        }
        unanswered = 0;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        // a large body may be answered before it was read (a 413 over the 1 MiB XML limit, a 400/403/412 decided from
        // the request line and headers) and, on a connection that was to close anyway, the socket closed while the
        // client still wrote: EPIPE or ECONNRESET, depending on timing (HTTP/1.1 allows an early answer)
        if ((code === 'EPIPE' || code === 'ECONNRESET') && (c.body?.length ?? 0) > (c.keepAlive ? 1024 * 1024 : 256 * 1024)) {
          statuses['oversized body'] ??= {};
          statuses['oversized body'].reset = (statuses['oversized body'].reset ?? 0) + 1;
          continue;
        }
        // node refused to send it (an invalid header character): not a request the server ever saw
        if (/^ERR_(INVALID|UNESCAPED|HTTP_INVALID)/.test(code)) continue;
        if ((code === 'ECONNRESET' || code === 'EPIPE') && headerBytes(c) > OVERSIZED) {
          statuses['oversized headers'] ??= {};
          statuses['oversized headers'].reset = (statuses['oversized headers'].reset ?? 0) + 1;
          continue;
        }
        unanswered++;
        failures.push(`no well-formed answer (${(error as Error).message}): ${describeCase(c)}`);
        continue;
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      slowest.push({ ms, what: `${Math.round(ms)} ms → ${reply.status}: ${describeCase(c)}` });
      slowest.sort((a, b) => b.ms - a.ms).splice(10);
      const group = `${c.method}${c.mutations.length ? ' (mutated body)' : ''}`;
      statuses[group] ??= {};
      statuses[group][reply.status] = (statuses[group][reply.status] ?? 0) + 1;
      const legitimate5xx =
        reply.status === 507 ||
        (reply.status === 501 && ODD_METHODS.includes(c.method)) ||
        (reply.status === 502 && (c.method === 'COPY' || c.method === 'MOVE') && c.foreignDestination);
      if (reply.status < 100 || reply.status >= 600 || (reply.status >= 500 && !legitimate5xx)) {
        failures.push(`status ${reply.status}: ${describeCase(c)} → ${JSON.stringify(reply.text.slice(0, 400))}`);
      }
      if (c.method === 'LOCK' && reply.status === 200) {
        const issued = lockTokenOf(reply);
        if (issued) tokens.push(issued);
      }
      // every 250 cases, release the locks the fuzz took (as a client would), so writes keep being exercised
      if (n % 250 === 249) {
        for (const held of tokens.slice(1)) {
          for (const target of ['/dav/', ...fileTargets])
            await dav(base, key, 'UNLOCK', target, { headers: { 'lock-token': `<${held}>` } }).catch(() => undefined);
        }
        tokens.splice(1);
      }
    }
    agent.destroy();

    // malformed HTTP on raw connections: the server answers 4xx or closes, and never 5xx
    const raw = [
      'PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n12345',
      'PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      'PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      'PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n',
      `PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(200_000)}\r\n\r\n`,
      'PROPFIND /dav/\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
      'PROPFIND  /dav/  HTTP/1.1\r\nHost: x\r\n\r\n',
      'PROPFIND /dav/ HTTP/9.9\r\nHost: x\r\n\r\n',
      'PROPFIND /dav/ HTTP/1.1\nHost: x\n\n',
      `LOCK /dav/b.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from(`x:${key}`).toString('base64')}\r\nContent-Length: 10\r\n\r\n<D:lockin`,
      `PUT /dav/raw.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from(`x:${key}`).toString('base64')}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nFFFFFFFFFFFFFFFFFF\r\n`,
      `PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from(`x:${key}`).toString('base64')}\r\nDepth: 1\r\n\r\nPROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nDepth: 0\r\n\r\n`,
      'GARBAGE\r\n\r\n',
      '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003',
    ];
    for (const request of raw) {
      const answer = await rawExchange(port, Buffer.from(request, 'latin1'));
      const lines = [...answer.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((match) => Number(match[1]));
      statuses['raw HTTP'] ??= {};
      for (const status of lines.length ? lines : ['closed without an answer']) statuses['raw HTTP'][status] = (statuses['raw HTTP'][status] ?? 0) + 1;
      if (lines.some((status) => status >= 500))
        failures.push(`raw request ${JSON.stringify(request.slice(0, 200))} → ${JSON.stringify(answer.slice(0, 400))}`);
    }

    console.log(`webdav fuzz seed ${SEED}: status distribution by method\n${JSON.stringify(statuses, null, 1)}`);
    console.log(`webdav fuzz seed ${SEED}: the 10 slowest answers (recorded, not asserted)\n${slowest.map((entry) => entry.what).join('\n')}`);
    if (failures.length)
      console.log(
        `webdav fuzz seed ${SEED}: ${failures.length} failing cases\n${failures.slice(0, 60).join('\n\n')}\n\napi output (tail):\n${api.child.output().slice(-30_000)}`,
      );

    // the process is alive, healthy, and WebDAV still works for this tenant and a fresh one; no request's failure
    // escaped its handler (the last-resort guard would have logged it and shut the process down)
    expect(api.alive()).toBe(true);
    expect(api.child.output()).not.toContain(LAST_RESORT_MESSAGE);
    expect(api.child.output()).not.toContain('unhandled promise rejection');
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    expect((await dav(base, key, 'PROPFIND', '/dav/', { headers: { depth: '1' } })).status).toBe(207);
    const fresh = await makeTenant(admin);
    expect((await dav(base, fresh.customerKey, 'PUT', davPath('after fuzz.txt'), { body: 'still fine' })).status).toBe(201);
    const entries = await propfind(base, fresh.customerKey, '/dav/', '1');
    expect(entries.map((entry) => entry.path).sort()).toEqual(['/dav/', '/dav/after fuzz.txt']);
    expect(
      parseMultistatus((await dav(base, fresh.customerKey, 'PROPFIND', davPath('after fuzz.txt'), { headers: { depth: '0' } })).text)[0].prop(
        'getcontentlength',
      ),
    ).toBe('10');
    expect((await dav(base, fresh.customerKey, 'GET', davPath('after fuzz.txt'))).text).toBe('still fine');

    expect(failures.slice(0, 20)).toEqual([]);
  }, 1_800_000);
});
