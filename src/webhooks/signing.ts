import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { OutboundAddressRefused, refusedAddress } from './address-policy';

/** `MServe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the receiver checks both, and the age. */
export function signature(secret: string, body: string, at = Math.floor(Date.now() / 1000)): string {
  return `t=${at},v1=${createHmac('sha256', secret).update(`${at}.${body}`).digest('hex')}`;
}

/** Whether an outbound call must not go to this address (see `refusedAddress`). */
export function privateAddress(address: string): boolean {
  return refusedAddress(address) !== undefined;
}

/**
 * Refuses URLs that are not http(s), and (unless allowed) ones whose host resolves to anything but a global unicast
 * address or to this host's own: the platform must not become a way into its own network (cloud metadata, admin ports).
 */
export async function assertOutboundUrl(url: string, allowPrivate: boolean, options: { resolve: boolean } = { resolve: true }): Promise<URL> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`"${url}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`only http and https URLs are allowed, not ${parsed.protocol}`);
  if (parsed.username || parsed.password) throw new Error('URLs with credentials are not allowed');
  if (!allowPrivate) {
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    if (host === 'localhost' || host.endsWith('.localhost'))
      throw new OutboundAddressRefused(`${parsed.hostname} is not a public address: a loopback name (set OUTBOUND_ALLOW_PRIVATE=true to allow it)`);
    // registration checks what it can without the network; every call resolves (and checks) again
    if (!isIP(host) && !options.resolve) return parsed;
    const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((entry) => entry.address);
    for (const address of addresses) {
      const why = refusedAddress(address);
      if (why)
        throw new OutboundAddressRefused(
          `${parsed.hostname}${address === host ? '' : ` resolves to ${address}, which`} is not a public address: ${why} (set OUTBOUND_ALLOW_PRIVATE=true to allow it)`,
        );
    }
  }
  return parsed;
}
