import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createServer } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { outboundRequest } from './outbound';
import { refusedAddress } from './address-policy';
import { assertOutboundUrl, privateAddress, signature } from './signing';

describe('outbound calls', () => {
  it('signs "t.body" with HMAC-SHA256 and says when', () => {
    const signed = signature('whsec_test', '{"a":1}', 1700000000);
    expect(signed).toBe(`t=1700000000,v1=${createHmac('sha256', 'whsec_test').update('1700000000.{"a":1}').digest('hex')}`);
  });

  it('refuses other schemes, credentials, and private, loopback or link-local addresses unless allowed', async () => {
    for (const url of ['ftp://example.org/', 'file:///etc/passwd', 'http://user:pass@example.org/', 'not a url']) {
      await expect(assertOutboundUrl(url, true)).rejects.toThrow();
    }
    for (const url of [
      'http://127.0.0.1/',
      'http://10.1.2.3/',
      'http://172.16.0.1/',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest',
      'http://[::1]/',
      'http://[fd00::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://localhost:8080/',
      'http://0.0.0.0/',
      'http://100.64.0.1/',
    ]) {
      await expect([
        url,
        await assertOutboundUrl(url, false).then(
          () => 'allowed',
          (error: Error) => error.message,
        ),
      ]).toEqual([url, expect.stringContaining('address')]);
      await expect(assertOutboundUrl(url, true)).resolves.toBeInstanceOf(URL);
    }
    await expect(assertOutboundUrl('https://93.184.215.14/x', false)).resolves.toBeInstanceOf(URL);
    // a host name is only resolved when asked (registration does not need the network)
    await expect(assertOutboundUrl('https://hooks.example.org/x', false, { resolve: false })).resolves.toBeInstanceOf(URL);
  });

  it('checks the address it connects to, not only the one it checked first (DNS rebinding)', async () => {
    const server = createServer((_request, response) => response.end('inside'));
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      // this machine's own name resolves to one of its addresses, which are private here
      const own = await lookup(hostname()).catch(() => undefined);
      if (own && privateAddress(own.address)) {
        await expect(outboundRequest(`http://${hostname()}:${port}/`, { method: 'GET', headers: {}, timeoutMs: 5000, allowPrivate: false })).rejects.toThrow(
          /not a public address/,
        );
        const allowed = await outboundRequest(`http://${hostname()}:${port}/`, { method: 'GET', headers: {}, timeoutMs: 5000, allowPrivate: true });
        expect(allowed.status).toBe(200);
        allowed.body.destroy();
      }
      await expect(outboundRequest(`http://127.0.0.1:${port}/`, { method: 'GET', headers: {}, timeoutMs: 5000, allowPrivate: false })).rejects.toThrow(
        /address/,
      );
    } finally {
      server.close();
    }
  });

  describe('the address policy: only global unicast, and never this host', () => {
    const none = new Set<string>();
    // every range one by one: [address, what the refusal says]
    const refused: [string, RegExp][] = [
      ['0.0.0.0', /unspecified/],
      ['0.1.2.3', /unspecified/],
      ['10.1.2.3', /private/],
      ['100.64.0.1', /carrier-grade NAT/],
      ['127.0.0.1', /loopback/],
      ['127.255.255.254', /loopback/],
      ['169.254.169.254', /link-local/],
      ['172.16.0.1', /private/],
      ['172.31.255.255', /private/],
      ['192.0.0.8', /reserved/],
      ['192.0.2.1', /reserved/],
      ['192.168.1.1', /private/],
      ['198.18.0.1', /benchmarking/],
      ['198.19.255.254', /benchmarking/],
      ['198.51.100.7', /reserved/],
      ['203.0.113.9', /reserved/],
      ['224.0.0.1', /multicast/],
      ['239.255.255.250', /multicast/],
      ['240.0.0.1', /reserved/],
      ['255.255.255.254', /reserved/],
      ['255.255.255.255', /broadcast/],
      ['::', /unspecified/],
      ['::1', /loopback/],
      ['fe80::1', /link-local/],
      ['fe90::1', /link-local/],
      ['febf::1', /link-local/],
      ['fec0::1', /outside 2000::\/3/],
      ['feff::1', /outside 2000::\/3/],
      ['fc00::1', /unique-local/],
      ['fd12:3456::1', /unique-local/],
      ['ff02::1', /multicast/],
      ['ff0e::1', /multicast/],
      ['100::1', /outside 2000::\/3/],
      ['::ffff:127.0.0.1', /IPv4-mapped form of 127.0.0.1, a loopback/],
      ['::ffff:7f00:1', /IPv4-mapped form of 127.0.0.1, a loopback/],
      ['::ffff:a9fe:a9fe', /IPv4-mapped form of 169.254.169.254, a link-local/],
      ['::ffff:0:7f00:1', /IPv4-translated form of 127.0.0.1/],
      ['::7f00:1', /IPv4-compatible form of 127.0.0.1/],
      ['::10.0.0.1', /IPv4-compatible form of 10.0.0.1, a private/],
      ['64:ff9b::7f00:1', /NAT64 form of 127.0.0.1/],
      ['64:ff9b::a9fe:a9fe', /NAT64 form of 169.254.169.254/],
      ['64:ff9b:1::1', /outside 2000::\/3/],
      ['2002:7f00:1::', /6to4 form of 127.0.0.1/],
      ['2002:c0a8:101::1', /6to4 form of 192.168.1.1, a private/],
      ['2001::1', /Teredo/],
      ['2001:db8::1', /reserved or documentation/],
      ['2001:10::1', /IETF protocol assignment/],
      ['3fff::1', /documentation/],
      ['5f00::1', /outside 2000::\/3/],
      ['fe80::1%eth0', /link-local/],
      ['not-an-address', /not an IP address/],
    ];
    it.each(refused)('refuses %s', (address, why) => {
      expect(refusedAddress(address, none)).toMatch(why);
    });

    it.each([
      '93.184.215.14',
      '8.8.8.8',
      '1.1.1.1',
      '2606:4700:4700::1111',
      '2a00:1450:4001:82b::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:808:808::1',
    ])('allows the global unicast address %s', (address) => {
      expect(refusedAddress(address, none)).toBeUndefined();
    });

    it("refuses this host's own interface addresses, in any spelling", () => {
      const own = new Set(['93.184.215.14', '2606:4700:4700:0:0:0:0:1111']);
      expect(refusedAddress('93.184.215.14', own)).toBe("this host's own address");
      expect(refusedAddress('2606:4700:4700::1111', own)).toBe("this host's own address");
      expect(refusedAddress('::ffff:93.184.215.14', own)).toMatch(/IPv4-mapped form of 93.184.215.14, this host's own address/);
      // and by default: the interfaces of the machine running this
      for (const entries of Object.values(networkInterfaces()))
        for (const entry of entries ?? []) expect([entry.address, refusedAddress(entry.address)]).toEqual([entry.address, expect.any(String)]);
    });

    it('refuses each of them in a URL, with the reason, and allows them when told to', async () => {
      for (const [address, why] of refused.filter(([address]) => !address.includes('%') && address !== 'not-an-address')) {
        const url = address.includes(':') ? `http://[${address}]/x` : `http://${address}/x`;
        const answer = await assertOutboundUrl(url, false).then(
          () => 'allowed',
          (error: Error) => error.message,
        );
        expect([url, answer]).toEqual([url, expect.stringMatching(/is not a public address/)]);
        expect([url, answer]).toEqual([url, expect.stringMatching(why.source.includes('form of') ? /form of/ : /./)]);
        await expect(assertOutboundUrl(url, true)).resolves.toBeInstanceOf(URL);
      }
    });
  });
});
