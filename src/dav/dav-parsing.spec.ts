import { ProblemError } from '../common/problem';
import { covers, parseTimeout, within } from './dav-locks';
import { hrefOf, parseDavPath, parseDestination } from './dav-path';
import { DavLock } from './dav.entities';
import { parseIfHeader, submittedTokens } from './if-header';
import { parseXml, serializeXml, textOf } from './xml';

const status = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return error instanceof ProblemError ? error.status : `threw ${String(error)}`;
  }
};

describe('If header', () => {
  it('parses untagged and tagged lists with Not and entity tags', () => {
    expect(parseIfHeader('(<urn:uuid:a> ["x"]) (Not <DAV:no-lock>)')).toEqual([
      {
        resource: undefined,
        conditions: [
          { not: false, token: 'urn:uuid:a' },
          { not: false, etag: '"x"' },
        ],
      },
      { resource: undefined, conditions: [{ not: true, token: 'DAV:no-lock' }] },
    ]);
    expect(parseIfHeader('<http://h/dav/a> (<urn:uuid:a>) <http://h/dav/b> (Not ["y"])')).toEqual([
      { resource: 'http://h/dav/a', conditions: [{ not: false, token: 'urn:uuid:a' }] },
      { resource: 'http://h/dav/b', conditions: [{ not: true, etag: '"y"' }] },
    ]);
    expect([...submittedTokens(parseIfHeader('(<urn:a>) (Not <urn:b>)'))]).toEqual(['urn:a']);
  });

  it('refuses what does not follow the grammar with a 400, never a crash', () => {
    for (const header of ['', '(', '()', '(<a> [x])', '<x>', '(<a>) <b> (<c>)', 'garbage', '(Nope <a>)', '(<a b>)', '<a> <b>']) {
      expect({ header, status: status(() => parseIfHeader(header)) }).toEqual({ header, status: 400 });
    }
  });

  it('keeps the complete lists of a header cut short inside its last list', () => {
    expect(parseIfHeader('(<urn:a> ["1"]) (Not <DAV:no-lock> ["12')).toEqual([
      {
        resource: undefined,
        conditions: [
          { not: false, token: 'urn:a' },
          { not: false, etag: '"1"' },
        ],
      },
    ]);
    expect(status(() => parseIfHeader('(<urn:a'))).toBe(400);
  });
});

describe('WebDAV paths', () => {
  it('decodes each segment on its own and refuses anything that could leave the root', () => {
    expect(parseDavPath('/dav/a%20b/%C3%A9t%C3%A9/100%25')).toEqual(['a b', 'été', '100%']);
    expect(parseDavPath('/dav/')).toEqual([]);
    for (const path of ['/dav/a%2Fb', '/dav/..', '/dav/a/%2e%2e/b', '/dav/a%5Cb', '/dav/%ZZ', '/dav/a#frag', '/dav/%00']) {
      expect({ path, status: status(() => parseDavPath(path)) }).toEqual({ path, status: 400 });
    }
    expect(status(() => parseDavPath('/api/v1/x'))).toBe(404);
  });

  it('takes Destination only on this host, under /dav', () => {
    expect(parseDestination('http://h:1/dav/x/y', 'h:1')).toEqual(['x', 'y']);
    expect(parseDestination('/dav/x', 'h')).toEqual(['x']);
    expect(() => parseDestination('http://other/dav/x', 'h')).toThrow('not on this WebDAV mount');
    expect(() => parseDestination('/api/v1/x', 'h')).toThrow('not on this WebDAV mount');
    expect(hrefOf(['a b', 'é'], true)).toBe('/dav/a%20b/%C3%A9/');
    expect(hrefOf([], true)).toBe('/dav/');
  });
});

describe('locks', () => {
  const lock = (path: string, deep: boolean) => Object.assign(new DavLock(), { path, deep });
  it('a lock covers its resource, and its subtree when deep', () => {
    expect(covers(lock('a', false), ['a'])).toBe(true);
    expect(covers(lock('a', false), ['a', 'b'])).toBe(false);
    expect(covers(lock('a', true), ['a', 'b', 'c'])).toBe(true);
    expect(covers(lock('a', true), ['ab'])).toBe(false);
    expect(covers(lock('', true), ['x'])).toBe(true);
    expect(within(lock('a/b', false), ['a'])).toBe(true);
    expect(within(lock('a', false), ['a', 'b'])).toBe(false);
  });
  it('reads Timeout headers, capped', () => {
    expect(parseTimeout('Second-30')).toBe(30);
    expect(parseTimeout('Infinite, Second-4100000000')).toBe(86400);
    expect(parseTimeout('bogus')).toBe(600);
    expect(parseTimeout(undefined)).toBe(600);
  });
});

describe('XML bodies', () => {
  it('resolves namespaces and round-trips a property value with its namespaces', () => {
    const root = parseXml(
      Buffer.from('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:z="urn:z"><D:prop><z:p a="1"><z:q>v&amp;</z:q></z:p></D:prop></D:propfind>'),
    );
    expect(root).toMatchObject({ ns: 'DAV:', local: 'propfind' });
    const prop = (root.children[0] as typeof root).children[0] as typeof root;
    expect(serializeXml(prop)).toBe('<n1:p xmlns:n1="urn:z" a="1"><n1:q>v&amp;</n1:q></n1:p>');
  });
  it('refuses malformed XML, DOCTYPEs (no entity expansion), undeclared prefixes, bad UTF-8 and deep nesting with a 400', () => {
    const cases = [
      '<a',
      '<a></b>',
      '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
      '<x:a/>',
      '{"json":true}',
      '<a/><b/>',
      `${'<a>'.repeat(100)}${'</a>'.repeat(100)}`,
    ];
    for (const body of cases)
      expect({ body: body.slice(0, 30), status: status(() => parseXml(Buffer.from(body))) }).toEqual({ body: body.slice(0, 30), status: 400 });
    expect(status(() => parseXml(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e])))).toBe(400);
  });
  it('refuses characters XML does not allow, written out or as references, in names, namespaces, attributes and text', () => {
    // found by the WebDAV fuzz (seed 2357159516): a NUL in a namespace became a property name PostgreSQL could not store
    const cases = [
      '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-fuz\u0000z:"><D:set><D:prop><Z:high/></D:prop></D:set></D:propertyupdate>',
      '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x&#0;"><D:set><D:prop><Z:high/></D:prop></D:set></D:propertyupdate>',
      '<a b="x&#x1;"/>',
      '<a>text\u0007</a>',
      '<a>&#xFFFE;</a>',
      '<a>&#xD800;</a>',
      '<a><![CDATA[\u0000]]></a>',
    ];
    for (const body of cases) expect({ body, status: status(() => parseXml(Buffer.from(body))) }).toEqual({ body, status: 400 });
    expect(() => parseXml(Buffer.from(cases[0]))).toThrow(/U\+0000 is not an XML character/);
    // tab, LF and characters beyond the BMP are XML characters
    expect(textOf(parseXml(Buffer.from('<a>\t\n&#x1F600;\u{1F600}</a>')))).toBe('\t\n\u{1F600}\u{1F600}');
  });
});
