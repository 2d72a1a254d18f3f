import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { Clock } from '../../clock.js';
import { DomainError, ServiceUnavailableError } from '../../errors.js';
import type { RateLimit } from '../../http/rate-limit.js';
import type { Hub } from '../../realtime/hub.js';
import type { Snapshot, SnapshotStore } from '../../realtime/snapshots.js';
import type { SdkAccess } from '../keys/access.js';
import type { SdkMetrics } from '../metrics/recorder.js';

export interface SdkDeps {
  access: SdkAccess;
  hub: Hub;
  snapshots: SnapshotStore;
  evaluationLimit: RateLimit;
  metrics: SdkMetrics;
  clock: Clock;
}

const BEARER = /^Bearer\s+(\S+)$/i;
const WHITESPACE = /\s/;

/**
 * The SDK key of `Authorization: Bearer <key>` (OFREP), the same on fastify and on the fast lane:
 * the usual spelling is read without a capturing match, any other through the one rule.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  if (authorization.startsWith('Bearer ')) {
    const token = authorization.slice(7);
    if (token.length > 0 && !WHITESPACE.test(token)) return token;
  }
  return BEARER.exec(authorization)?.[1];
}

/**
 * A preParsing hook for SDK routes, whose bodies are small and never inflated: a body sent with a
 * Content-Encoding is refused with 415 (RFC 9110, 15.5.16) instead of being read as JSON and
 * answered as malformed.
 */
export async function unencodedBodiesOnly(req: FastifyRequest, _reply: FastifyReply, payload: unknown) {
  const encoding = req.headers['content-encoding'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && encoding !== undefined && encoding.trim().toLowerCase() !== 'identity')
    throw new DomainError('UNSUPPORTED_MEDIA_TYPE', 'SDK request bodies are not accepted with a Content-Encoding');
  return payload;
}

const loads = new WeakMap<SnapshotStore, Map<string, Promise<Snapshot | undefined>>>();

/**
 * The request key's environment, from the in-memory snapshots. When a valid key's environment
 * has no snapshot yet (created without a change notification reaching this node), the first
 * request loads it, once per node, as the key cache does for a key it has not seen; concurrent
 * requests share that one load. Every later request is answered from memory.
 */
export function snapshotOf(snapshots: SnapshotStore, req: FastifyRequest): Snapshot | Promise<Snapshot | undefined> {
  const environmentId = req.sdkKey!.environmentId;
  const snapshot = snapshots.get(environmentId);
  if (snapshot !== undefined) return snapshot;
  let pending = loads.get(snapshots);
  if (!pending) loads.set(snapshots, (pending = new Map()));
  let load = pending.get(environmentId);
  if (!load) {
    load = snapshots
      .reload(environmentId)
      .then(() => snapshots.get(environmentId))
      .finally(() => pending.delete(environmentId));
    pending.set(environmentId, load);
  }
  return load;
}

/** What a valid key gets when its environment could not be loaded (deleted a moment ago). */
export const ENVIRONMENT_UNAVAILABLE = 'environment is not available; retry shortly';

export function environmentUnavailable(): never {
  throw new ServiceUnavailableError(ENVIRONMENT_UNAVAILABLE);
}

/** RFC 9110 If-None-Match: `*` or a list of entity tags, compared weakly (a `W/` prefix is ignored). */
export function etagMatches(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value.trim() === '*') return true;
  for (const part of value.split(',')) {
    const tag = part.trim();
    if (tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag)) return true;
  }
  return false;
}

/**
 * A route handler that answers from the key's snapshot. Synchronous when the snapshot is in
 * memory (the hot path: no promise for the handler itself); `answer` returns the body to send,
 * or the reply when it has sent one itself.
 */
export function fromSnapshot(
  snapshots: SnapshotStore,
  answer: (req: FastifyRequest, reply: FastifyReply, snapshot: Snapshot) => unknown,
  unavailable: (req: FastifyRequest, reply: FastifyReply) => unknown = environmentUnavailable,
): RouteHandlerMethod {
  return (req, reply) => {
    const found = snapshotOf(snapshots, req);
    if (found instanceof Promise) {
      return found.then((snapshot) => (snapshot ? answer(req, reply, snapshot) : unavailable(req, reply)));
    }
    const body = answer(req, reply, found);
    if (body instanceof Promise) return body;
    return body === reply ? reply : reply.send(body);
  };
}
