import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ForbiddenError, RateLimitedError } from '../errors.js';
import { errorAnswer, requestId } from '../http/envelope.js';
import { clientAddress, protocolOf, trustOf } from '../http/proxy.js';
import { type RateLimit, rateLimitHeaders } from '../http/rate-limit.js';

/**
 * The HTTP rules a WebSocket upgrade obeys before `ws` takes the socket. An upgrade never reaches
 * fastify's routing or hooks, so REQUIRE_HTTPS and a per-IP limit are applied here, with
 * fastify's trustProxy rule: X-Forwarded-Proto / -For count only when the socket's peer is a
 * proxy listed in TRUST_PROXY. A refusal is a plain HTTP response with the error envelope.
 */
export interface UpgradeRules {
  requireHttps: boolean;
  /** Addresses/CIDRs of proxies whose X-Forwarded-* headers are trusted (TRUST_PROXY). */
  trustProxy: readonly string[];
  /** Upgrades per client IP. */
  rateLimit: RateLimit;
}

/** Why an upgrade is refused (a DomainError, answered in the envelope), with the headers to send. */
export interface UpgradeRefusal {
  error: unknown;
  headers?: Record<string, string>;
}

export type UpgradeVerdict = { refusal: UpgradeRefusal } | { refusal: null; headers: Record<string, string> };

/** Checks an upgrade against the rules: a refusal, or the rate-limit headers for the 101. */
export function upgradeGate(rules: UpgradeRules): (req: IncomingMessage) => Promise<UpgradeVerdict> {
  const trusted = trustOf(rules.trustProxy);
  return async (req) => {
    if (rules.requireHttps && protocolOf(req.socket, req.headers['x-forwarded-proto'], trusted) !== 'https') {
      return { refusal: { error: new ForbiddenError('HTTPS is required') } };
    }
    // The client's address as fastify's `req.ip` gives it: X-Forwarded-For through trusted proxies.
    const ip = clientAddress(req, trusted);
    const verdict = await rules.rateLimit.consume(ip);
    const headers = rateLimitHeaders(verdict);
    if (!verdict.allowed) return { refusal: { error: new RateLimitedError(), headers } };
    return { refusal: null, headers };
  };
}

/** Answers the upgrade with an HTTP/1.1 error response in the REST envelope, then destroys the socket. */
export function refuseUpgrade(req: IncomingMessage, socket: Duplex, refusal: UpgradeRefusal): void {
  if (socket.destroyed) return;
  const id = requestId(req);
  const answer = errorAnswer(id, refusal.error);
  const body = JSON.stringify(answer.body);
  const headers: Record<string, string | number> = {
    ...refusal.headers,
    ...answer.headers,
    'x-request-id': id,
    'cache-control': 'private, no-cache',
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  };
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.on('error', () => socket.destroy());
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n${head.join('')}\r\n${body}`);
}
