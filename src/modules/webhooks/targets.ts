import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ValidationError } from '../../errors.js';

/**
 * Where a webhook may point. A webhook makes this server send requests wherever its URL says, so
 * anyone allowed to create one could otherwise reach what only the server can: its loopback, the
 * private network it runs in, a cloud's metadata service (169.254.169.254, fd00:ec2::254,
 * 100.100.100.200). Only public unicast addresses are targets, unless WEBHOOK_ALLOW_PRIVATE is
 * set. The check runs when the URL is saved and again before every attempt, on the addresses
 * the name resolves to then, and the attempt connects to the address that was checked (DNS
 * can change between the two: see delivery.ts).
 */
export const MAX_URL_LENGTH = 2048;
const LOOKUP_TIMEOUT_MS = 5_000;

/** A target the rules refuse: the attempt is not made. */
export class UnsafeTargetError extends Error {
  override name = 'UnsafeTargetError';
}

/** The URL, if it is one a webhook may have: http(s), a host, no credentials, no fragment, bounded. */
export function parseWebhookUrl(raw: string): URL {
  if (raw.length > MAX_URL_LENGTH) throw new ValidationError(`url must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError('url is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ValidationError('url must be http:// or https://');
  if (url.username || url.password) {
    throw new ValidationError('url must not carry credentials: receivers verify the signature instead');
  }
  if (url.hash) throw new ValidationError('url must not have a fragment');
  if (!url.hostname) throw new ValidationError('url must name a host');
  // The bound holds for the URL as stored and sent, which encoding can make longer than the input.
  if (url.href.length > MAX_URL_LENGTH) throw new ValidationError(`url must be at most ${MAX_URL_LENGTH} characters`);
  return url;
}

/** The kind of address `address` is, as ipaddr.js names ranges (`unicast` for public ones). */
export function addressRange(address: string): string {
  let parsed = ipaddr.parse(address);
  // ::ffff:10.0.0.1 is 10.0.0.1.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range();
}

export interface ResolvedTarget {
  hostname: string;
  address: string;
  family: 4 | 6;
}

async function resolve(hostname: string): Promise<{ address: string; family: number }[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnsafeTargetError(`${hostname} did not resolve in time`)), LOOKUP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([lookup(hostname, { all: true, verbatim: true }), timeout]);
  } catch (error) {
    if (error instanceof UnsafeTargetError) throw error;
    throw new UnsafeTargetError(`${hostname} does not resolve`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The address to connect to for `url`, once: every address the host resolves to must be a
 * permitted one (a name that resolves to one public and one private address is refused), and
 * the first is used.
 */
export async function resolveTarget(url: URL, allowPrivate: boolean): Promise<ResolvedTarget> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = isIP(hostname) ? [{ address: hostname, family: isIP(hostname) }] : await resolve(hostname);
  if (addresses.length === 0) throw new UnsafeTargetError(`${hostname} does not resolve`);
  if (!allowPrivate) {
    for (const { address } of addresses) {
      const range = addressRange(address);
      if (range !== 'unicast') {
        throw new UnsafeTargetError(
          `${hostname} resolves to ${address} (${range}): only public addresses are webhook targets`,
        );
      }
    }
  }
  const first = addresses[0]!;
  return { hostname, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** The check at creation and update: the same rules, answered as a VALIDATION error. */
export async function assertSafeTarget(url: URL, allowPrivate: boolean): Promise<void> {
  try {
    await resolveTarget(url, allowPrivate);
  } catch (error) {
    if (error instanceof UnsafeTargetError) throw new ValidationError(`url refused: ${error.message}`);
    throw error;
  }
}
