import { lookup as dnsLookup, LookupAddress, LookupOptions } from 'node:dns';
import http, { IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { hostAddresses, OutboundAddressRefused, refusedAddress } from './address-policy';
import { assertOutboundUrl } from './signing';

export interface OutboundResponse {
  status: number;
  header(name: string): string | null;
  /** The body, streamed; destroy it when it is not read to the end. */
  body: IncomingMessage;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A DNS lookup that refuses every answer but a global unicast address that is not this host's own: the address checked is the address connected
 * to, so a name that resolves to a public address for the check and to an internal one for the request (DNS
 * rebinding) gets nowhere.
 */
function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const own = hostAddresses();
    for (const entry of addresses) {
      const why = refusedAddress(entry.address, own);
      if (why)
        return callback(
          new OutboundAddressRefused(
            `${hostname} resolves to ${entry.address}, which is not a public address: ${why} (set OUTBOUND_ALLOW_PRIVATE=true to allow it)`,
          ),
          [],
        );
    }
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
}

/**
 * One outbound HTTP(S) request for webhooks and fetch-url: http and https only, no credentials in the URL, and
 * (unless allowed) never to a private address — checked on the literal host and again on every DNS answer used to
 * connect. Redirects are not followed here (the caller checks each hop).
 */
export async function outboundRequest(
  target: string,
  options: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string; timeoutMs: number; allowPrivate: boolean },
): Promise<OutboundResponse> {
  const url = await assertOutboundUrl(target, options.allowPrivate, { resolve: false });
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: options.method,
        headers: { ...options.headers, ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}) },
        ...(options.allowPrivate || isIP(host) ? {} : { lookup: guardedLookup as never }),
        timeout: options.timeoutMs,
      },
      (response) => {
        resolve({
          status: response.statusCode ?? 0,
          header: (name) => {
            const value = response.headers[name.toLowerCase()];
            return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
          },
          body: response,
        });
      },
    );
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error(`${url.origin} did not answer within ${options.timeoutMs} ms`), { name: 'TimeoutError' })),
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** The first `limit` bytes of a body as text; the rest is never read. */
export async function readAtMost(body: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= limit) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
