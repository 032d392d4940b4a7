import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** `MServe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the receiver checks both, and the age. */
export function signature(secret: string, body: string, at = Math.floor(Date.now() / 1000)): string {
  return `t=${at},v1=${createHmac('sha256', secret).update(`${at}.${body}`).digest('hex')}`;
}

export function privateAddress(address: string): boolean {
  if (isIP(address) === 4) {
    const [a, b] = address.split('.').map(Number);
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(.+)$/.exec(lower)?.[1];
  if (mapped) {
    // an IPv4-mapped address, dotted (::ffff:127.0.0.1) or as URL parsing normalises it (::ffff:7f00:1)
    const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(mapped);
    const ipv4 = hex ? [parseInt(hex[1], 16) >> 8, parseInt(hex[1], 16) & 255, parseInt(hex[2], 16) >> 8, parseInt(hex[2], 16) & 255].join('.') : mapped;
    return isIP(ipv4) !== 4 || privateAddress(ipv4);
  }
  return lower === '::1' || lower === '::' || lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80');
}

/**
 * Refuses URLs that are not http(s), and (unless allowed) ones whose host resolves to a loopback, private or
 * link-local address: the platform must not become a way into its own network (cloud metadata, admin ports).
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
      throw new Error(`${parsed.hostname} is a loopback address (set OUTBOUND_ALLOW_PRIVATE=true to allow it)`);
    // registration checks what it can without the network; every call resolves (and checks) again
    if (!isIP(host) && !options.resolve) return parsed;
    const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((entry) => entry.address);
    if (addresses.some(privateAddress))
      throw new Error(`${parsed.hostname} is a private, loopback or link-local address (set OUTBOUND_ALLOW_PRIVATE=true to allow it)`);
  }
  return parsed;
}
