import ipaddr from 'ipaddr.js';
import { networkInterfaces } from 'node:os';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

/** What ipaddr.js calls each range it knows, in words for a refusal. */
const RANGE_WORDS: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address',
  private: 'a private address',
  uniqueLocal: 'a unique-local address',
  reserved: 'a reserved or documentation address',
  teredo: 'a Teredo tunnel address',
};

const cidr = (text: string) => ipaddr.parseCIDR(text) as [IPv4, number] | [IPv6, number];

/** Special-purpose ranges (IANA registries) that ipaddr.js 1.9 still calls unicast. */
const EXTRA_V4: [[IPv4, number], string][] = [[cidr('198.18.0.0/15') as [IPv4, number], 'a benchmarking address (198.18.0.0/15)']];
const EXTRA_V6: [[IPv6, number], string][] = [
  [cidr('2001::/23') as [IPv6, number], 'an IETF protocol assignment (2001::/23)'],
  [cidr('3fff::/20') as [IPv6, number], 'a documentation address (3fff::/20)'],
];
/** The only IPv6 block allocated for global unicast: everything outside it (fec0::/10, 100::/64, 64:ff9b:1::/48, …) is refused. */
const GLOBAL_UNICAST_V6 = cidr('2000::/3') as [IPv6, number];
const SIX_TO_FOUR = cidr('2002::/16') as [IPv6, number];
const NAT64 = cidr('64:ff9b::/96') as [IPv6, number];

/** The IPv4 address an IPv6 one carries (mapped, translated, IPv4-compatible, NAT64, 6to4), and what that form is called. */
function embeddedIPv4(address: IPv6): { ipv4: IPv4; form: string } | undefined {
  const p = address.parts;
  const fromWords = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]);
  const range = address.range();
  if (range === 'ipv4Mapped') return { ipv4: fromWords(p[6], p[7]), form: 'an IPv4-mapped form' };
  if (range === 'rfc6145') return { ipv4: fromWords(p[6], p[7]), form: 'an IPv4-translated form' };
  if (address.match(NAT64)) return { ipv4: fromWords(p[6], p[7]), form: 'a NAT64 form' };
  if (address.match(SIX_TO_FOUR)) return { ipv4: fromWords(p[1], p[2]), form: 'a 6to4 form' };
  // ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 are themselves, not IPv4 addresses
  if (p.slice(0, 6).every((part) => part === 0) && (p[6] !== 0 || p[7] > 1)) return { ipv4: fromWords(p[6], p[7]), form: 'an IPv4-compatible form' };
  return undefined;
}

function parse(address: string): IPv4 | IPv6 | undefined {
  const bare = address.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) names an interface, not an address
  try {
    return ipaddr.parse(bare);
  } catch {
    // ipaddr.js 1.9 reads a dotted tail only after ::ffff: (not ::10.0.0.1): let the URL parser spell it in hex first
    try {
      return bare.includes(':') ? ipaddr.parse(new URL(`http://[${bare}]/`).hostname.slice(1, -1)) : undefined;
    } catch {
      return undefined; // not an address: refused
    }
  }
}

/** This machine's own addresses (every interface, read each time: interfaces come and go), normalised. */
export function hostAddresses(): Set<string> {
  const own = new Set<string>();
  for (const entries of Object.values(networkInterfaces()))
    for (const entry of entries ?? []) {
      const parsed = parse(entry.address);
      if (parsed) own.add(parsed.toNormalizedString());
    }
  return own;
}

/**
 * Why an outbound call must not go to `address`, or undefined when it may: only global unicast addresses are allowed
 * (ipaddr.js's `unicast` range, inside 2000::/3 for IPv6, minus the special-purpose blocks it does not know), after
 * unwrapping the IPv6 forms that carry an IPv4 address, and never one of this host's own interface addresses.
 */
export function refusedAddress(address: string, own: Set<string> = hostAddresses()): string | undefined {
  const parsed = parse(address);
  if (!parsed) return 'not an IP address';
  if (parsed.kind() === 'ipv6') {
    const inner = embeddedIPv4(parsed as IPv6);
    if (inner) {
      const why = refusedAddress(inner.ipv4.toString(), own);
      return why && `${inner.form} of ${inner.ipv4.toString()}, ${why}`;
    }
  }
  const why = parsed.kind() === 'ipv6' ? refusedIPv6(parsed as IPv6) : refusedIPv4(parsed as IPv4);
  return why ?? (own.has(parsed.toNormalizedString()) ? "this host's own address" : undefined);
}

function refusedIPv6(address: IPv6): string | undefined {
  const range = address.range();
  if (range !== 'unicast') return RANGE_WORDS[range] ?? `a special-purpose address (${range})`;
  if (!address.match(GLOBAL_UNICAST_V6)) return 'not a global unicast address (outside 2000::/3)';
  return EXTRA_V6.find(([block]) => address.match(block))?.[1];
}

function refusedIPv4(address: IPv4): string | undefined {
  const range = address.range();
  if (range !== 'unicast') return RANGE_WORDS[range] ?? `a special-purpose address (${range})`;
  return EXTRA_V4.find(([block]) => address.match(block))?.[1];
}

/** An outbound call refused for the address it would reach: permanent, never worth a retry. */
export class OutboundAddressRefused extends Error {
  readonly code = 'EADDRNOTAVAIL';
  readonly refusedAddress = true;
  constructor(message: string) {
    super(message);
    this.name = 'OutboundAddressRefused';
  }
}

export function isOutboundAddressRefused(error: unknown): boolean {
  return (error as { refusedAddress?: unknown } | null)?.refusedAddress === true;
}
