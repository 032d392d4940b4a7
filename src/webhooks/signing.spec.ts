import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { outboundRequest } from './outbound';
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
          /private, loopback or link-local/,
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
});
