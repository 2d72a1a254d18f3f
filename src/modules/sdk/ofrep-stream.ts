import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError, NotFoundError, shuttingDown, UnauthenticatedError } from '../../errors.js';
import { headerValue } from '../../http/headers.js';
import type { HubUpdate } from '../../realtime/hub.js';
import { Frame, lastEventIdOf, sseEvent } from '../../realtime/sse.js';
import { INVALID_SDK_KEY, originAllowed } from '../keys/access.js';
import type { CachedSdkKey } from '../keys/cache.js';
import type { SdkDeps } from './common.js';

/**
 * OFREP event streams (open-feature/protocol ADR-0008): the bulk answer names an SSE endpoint
 * (`eventStreams: [{type: "sse", endpoint: {requestUri}, inactivityDelaySec}]`), and every change
 * of the environment is one `message` event there, `{"type": "refetchEvaluation", "etag",
 * "lastModified"}`, with the environment version as its `id` (stable: a reconnect with
 * Last-Event-ID older than the current version, or none, gets one refetch at once; missed
 * changes need no more, since the provider re-fetches everything).
 *
 * EventSource cannot send headers, so the URL carries the credential, and it is never an SDK key:
 * a short-lived token, HMAC-signed by this service, naming the key's id, its environment and when
 * it expires. It names no version: the URL stays the same from one bulk answer to the next, so the
 * provider keeps its connection (it reconnects whenever the URL changes), and a first connection
 * is told to re-fetch instead. Opening the stream asks the SDK-key door's cache for
 * that key by id (revoked, expired or moved keys are refused, and end open streams), and checks
 * a browser's origin against a client-side ID's allow-list as every SDK door does.
 */
export const OFREP_STREAM_PATH = '/ofrep/v1/stream';
/** Seconds after which an idle provider may close the stream (the ADR's default). */
const INACTIVITY_DELAY_SEC = 120;
/**
 * A token is minted per key and time window, so bulk answers stay cacheable for that long, and
 * is accepted for two windows. The window is part of the bulk answer's ETag: a provider is never
 * told 304 about a body whose stream token has expired, so its EventSource always reconnects
 * with a token that works (revocation is checked on every connection and ends open streams).
 */
const TOKEN_WINDOW_MS = 30 * 60_000;
const TOKEN_TTL_MS = 2 * TOKEN_WINDOW_MS;

interface TokenClaims {
  /** Key id, environment id, expiry (epoch ms). */
  k: string;
  e: string;
  x: number;
}

export interface StreamDescriptor {
  type: 'sse';
  endpoint: { requestUri: string };
  inactivityDelaySec: number;
}

export class OfrepStreams {
  private readonly secret: Buffer;

  constructor(
    secret: string,
    private readonly now: () => number,
  ) {
    // A key of its own, derived from the service secret, so a stream token is never a valid JWT.
    this.secret = createHmac('sha256', secret).update('vexil ofrep event stream').digest();
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }

  /** The current token window (what bulk ETags include). */
  window(): number {
    return Math.floor(this.now() / TOKEN_WINDOW_MS);
  }

  /** Descriptors per key id for the current window: minting one (JSON, HMAC) per request was a cost. */
  private minted = new Map<string, { window: number; descriptor: StreamDescriptor }>();

  /** What the bulk answer tells the provider to connect to. */
  descriptor(key: CachedSdkKey): StreamDescriptor {
    const current = this.window();
    const known = this.minted.get(key.id);
    if (known?.window === current) return known.descriptor;
    const descriptor = this.mint(key, current);
    if (this.minted.size > 10_000) this.minted.clear();
    this.minted.set(key.id, { window: current, descriptor });
    return descriptor;
  }

  private mint(key: CachedSdkKey, current: number): StreamDescriptor {
    const window = current * TOKEN_WINDOW_MS;
    const claims: TokenClaims = { k: key.id, e: key.environmentId, x: window + TOKEN_TTL_MS };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    // No origin: the provider puts its configured OFREP base URL's in front (ADR-0008 `endpoint`).
    const requestUri = `${OFREP_STREAM_PATH}?token=${payload}.${this.sign(payload)}`;
    return { type: 'sse', endpoint: { requestUri }, inactivityDelaySec: INACTIVITY_DELAY_SEC };
  }

  /** The claims of a token this service signed and that has not expired; null otherwise. */
  verify(token: unknown): TokenClaims | null {
    if (typeof token !== 'string' || token.length > 1024) return null;
    const dot = token.indexOf('.');
    if (dot <= 0) return null;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.sign(payload));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return null;
    }
    if (typeof claims?.k !== 'string' || typeof claims.e !== 'string' || typeof claims.x !== 'number') return null;
    return claims.x > this.now() ? claims : null;
  }
}

const refetchFrames = new WeakMap<HubUpdate, Frame>();

/** One frame per update, shared by every stream of the environment. */
function refetchFrame(update: HubUpdate): Frame {
  let frame = refetchFrames.get(update);
  if (frame === undefined) {
    const current = update.current!;
    frame = new Frame(
      sseEvent(current.version, 'message', {
        type: 'refetchEvaluation',
        etag: current.etag,
        lastModified: Math.floor(update.at.getTime() / 1000),
      }),
    );
    refetchFrames.set(update, frame);
  }
  return frame;
}

export function registerOfrepStreamRoute(app: FastifyInstance, deps: SdkDeps & { streams: OfrepStreams }) {
  app.get(OFREP_STREAM_PATH, {
    config: { cacheControl: 'no-store', checksOwnInput: true },
    compress: false,
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const claims = deps.streams.verify((req.query as { token?: unknown }).token);
      if (!claims) throw new UnauthenticatedError('the event stream token is invalid or has expired');
      const key = deps.access.keyById(claims.k);
      if (!key || key.environmentId !== claims.e) throw new UnauthenticatedError(INVALID_SDK_KEY);
      const origin = headerValue(req.headers.origin);
      if (!originAllowed(key, origin))
        throw new ForbiddenError(`origin ${origin} is not authorized for this client-side ID`);
      // Budgeted as the key's other requests are.
      await deps.evaluationLimit.check(`key-id:${key.id}`, reply);
      const snapshot = deps.snapshots.get(key.environmentId);
      if (!snapshot) throw new NotFoundError('environment');
      if (deps.hub.isClosing) throw shuttingDown();
      if (origin) {
        reply.header('access-control-allow-origin', origin);
        reply.header('vary', 'Origin');
      }
      const stream = app.eventStreams.open(reply);
      const lastEventId = lastEventIdOf(req.headers['last-event-id']);
      // A provider that missed a change while it was away is told to re-fetch now. So is one
      // connecting for the first time (no Last-Event-ID): a change may have landed between its
      // bulk evaluation and this connection, and a re-fetch it did not need costs it one 304.
      if (lastEventId === null || lastEventId < snapshot.version) {
        stream.write(sseEvent(snapshot.version, 'message', { type: 'refetchEvaluation', etag: snapshot.etag }));
      }
      // The key is asked again on every event and when its revocation's grace ends.
      let expiry: NodeJS.Timeout | undefined;
      const valid = (): boolean => {
        const now = deps.access.keyById(key.id);
        if (expiry) clearTimeout(expiry);
        expiry = undefined;
        if (now === undefined || now.environmentId !== key.environmentId) {
          stream.end(': the API key is no longer valid\n\n');
          return false;
        }
        if (now.expiresAt !== null) {
          expiry = setTimeout(valid, Math.min(Math.max(0, now.expiresAt - Date.now()) + 5, 2 ** 31 - 1));
          expiry.unref();
        }
        return true;
      };
      valid();
      stream.onClose(() => expiry && clearTimeout(expiry));
      stream.onClose(
        deps.hub.onEnvironment(key.environmentId, (event) => {
          if (!valid() || event.type === 'keys') return;
          if (!event.update.current) return stream.end(': the environment was deleted\n\n');
          stream.write(refetchFrame(event.update));
        }),
      );
    },
  });
}
