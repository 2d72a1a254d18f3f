import { DomainError, ForbiddenError, UnauthenticatedError } from '../../errors.js';
import { ipBudget } from '../../http/rate-limit.js';
import type { CachedSdkKey, SdkKeyCache } from './cache.js';
import type { SdkKeyKind } from './entity.js';

/**
 * The one door for SDK credentials. Every SDK-facing entry (the fast lane, the fastify SDK
 * routes, the SSE bridge, graphql-ws) asks it two questions:
 * - may this presented credential, from this browser origin, use a door that accepts these
 *   kinds? (`check`: the key, or the refusal to answer with);
 * - which rate-limit budget does the request spend? (`budgetOf`).
 */
export const INVALID_SDK_KEY = 'API key is invalid';
/** A valid server or mobile key, with a path naming an environment that is not the key's. */
export const ENVIRONMENT_NOT_FOR_KEY = 'environment not found for this key';

/** What an SDK request presents. */
export interface SdkCredential {
  /** `X-API-Key` (or OFREP's `Authorization: Bearer`, or `x-api-key` in graphql-ws `connection_init`). */
  presented?: string | null;
  /**
   * The environment named in the path (`/v1/client/{envKey}/flags`, `/v1/stream/{envKey}`): its
   * client-side ID, or its key (slug) when `presented` is a server or mobile key of it.
   */
  pathValue?: string | null;
  /** The browser origin, checked against a client-side ID's allow-list. */
  origin?: string | null;
}

export type SdkVerdict = CachedSdkKey | DomainError;

const kindName = (kind: SdkKeyKind) => (kind === 'client' ? 'client-side ID' : `${kind} key`);

/** A client-side ID used from a browser must be used from an allowed origin. */
export function originAllowed(key: CachedSdkKey, origin: string | null | undefined): boolean {
  return !origin || key.kind !== 'client' || key.allowAnyOrigin || key.origins.has(origin);
}

/**
 * The budget a request spends: a valid key's client (the reference's rule: the first 12
 * characters of the key), else the caller's address. A request whose key does not check out
 * never spends a valid key's budget, so knowing a public client-side ID's prefix is not enough
 * to starve its browsers.
 */
export function budgetOf(verdict: SdkVerdict | null, credential: SdkCredential, ip: string): string {
  if (verdict === null || verdict instanceof Error) return ipBudget(ip);
  return keyBudget(credential.presented || credential.pathValue || '');
}

/**
 * The budget of a request whose key checked out. Kept per presented value (bounded, as the key
 * cache's hash memo): a string built anew for every request is hashed anew by the limiter's map,
 * about 1% of a small evaluation's time on the SDK fast lane.
 */
export function keyBudget(presented: string): string {
  let budget = budgets.get(presented);
  if (budget === undefined) {
    budget = `key:${presented.slice(0, 12)}`;
    if (budgets.size >= BUDGETS_MAX) budgets.clear();
    budgets.set(presented, budget);
  }
  return budget;
}

const budgets = new Map<string, string>();
const BUDGETS_MAX = 10_000;

/** Who a key watch tells when the key stops being valid: the stream it belongs to. */
export interface KeyWatcher {
  keyEnded(): void;
}

/**
 * One stream's watch over its key (SdkAccess.watch). A class, so that each of 10,000 idle streams
 * holds one small object rather than a closure per method.
 */
export class KeyWatch {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private expiresAt: number | null;

  constructor(
    private readonly cache: SdkKeyCache,
    private readonly value: string,
    private readonly key: CachedSdkKey,
    private readonly owner: KeyWatcher,
  ) {
    this.expiresAt = key.expiresAt;
    this.schedule();
  }

  /** Asks the key cache again (the environment's keys were reloaded). */
  recheck(): void {
    void Promise.resolve(this.cache.resolve(this.value))
      .catch(() => null)
      .then((now) => {
        if (this.stopped) return;
        if (!now || now.environmentId !== this.key.environmentId) return this.expire();
        this.expiresAt = now.expiresAt;
        this.schedule();
      });
  }

  /** False once the key's grace has run out (ending the stream); a comparison, not a lookup. */
  stillValid(): boolean {
    if (this.stopped) return false;
    if (this.expiresAt !== null && this.expiresAt <= Date.now()) {
      this.expire();
      return false;
    }
    return true;
  }

  /** Stops watching (the stream ended). */
  dispose(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private expire(): void {
    this.dispose();
    this.owner.keyEnded();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.expiresAt === null || this.stopped) return;
    // The key cache decides with its own clock; the timer only says when to ask it again.
    this.timer = setTimeout(() => this.recheck(), Math.max(0, Math.min(this.expiresAt - Date.now(), 2 ** 31 - 1)) + 5);
    this.timer.unref();
  }
}

export class SdkAccess {
  constructor(private readonly cache: SdkKeyCache) {}

  /**
   * The verdict when this node can give it from memory, or undefined when a key must be looked
   * up first (a well-formed key created on another node a moment ago). Never touches the database.
   */
  checkInMemory(credential: SdkCredential, kinds: readonly SdkKeyKind[]): SdkVerdict | undefined {
    const resolved = this.resolveAll(credential);
    return resolved instanceof Promise ? undefined : this.decide(resolved, credential, kinds);
  }

  /** The verdict, looking a key up once when this node has not seen it. */
  async check(credential: SdkCredential, kinds: readonly SdkKeyKind[]): Promise<SdkVerdict> {
    const resolved = this.resolveAll(credential);
    return this.decide(resolved instanceof Promise ? await resolved : resolved, credential, kinds);
  }

  /** The fast lane's question: the key when it is in memory, valid, of an accepted kind; else undefined. */
  cachedKey(presented: string, kinds: readonly SdkKeyKind[]): CachedSdkKey | undefined {
    const key = this.cache.cached(presented);
    return key !== undefined && kinds.includes(key.kind) ? key : undefined;
  }

  /**
   * A valid key by its id, from memory: for credentials this service signed itself that name a
   * key without carrying it (OFREP event stream tokens). Undefined when revoked, expired or unknown.
   */
  keyById(id: string): CachedSdkKey | undefined {
    return this.cache.cachedById(id);
  }

  /**
   * Watches the key a stream was opened with and tells `owner` once it stops being valid: a
   * revocation's grace ends (a timer at expiresAt, and `stillValid()` on every event, which is a
   * comparison, not a lookup) or the key is revoked or deleted (`recheck()`, which streams call
   * when the environment's keys are reloaded).
   */
  watch(value: string, key: CachedSdkKey, owner: KeyWatcher): KeyWatch {
    return new KeyWatch(this.cache, value, key, owner);
  }

  private resolveAll(credential: SdkCredential): ResolvedCredential | Promise<ResolvedCredential> {
    const path = credential.pathValue ? this.cache.resolve(credential.pathValue) : undefined;
    const presented = credential.presented ? this.cache.resolve(credential.presented) : undefined;
    if (path instanceof Promise || presented instanceof Promise) {
      return Promise.all([path, presented]).then(([p, k]) => ({ path: p, presented: k }));
    }
    return { path, presented };
  }

  private decide(resolved: ResolvedCredential, credential: SdkCredential, kinds: readonly SdkKeyKind[]): SdkVerdict {
    let key: CachedSdkKey;
    if (credential.pathValue) {
      const inPath = resolved.path;
      const secret = credential.presented ? resolved.presented : undefined;
      if (credential.presented && !secret) return new UnauthenticatedError(INVALID_SDK_KEY);
      if (inPath?.kind === 'client') {
        key = inPath;
        if (secret) {
          // A server key for the same environment lifts the client-side filter.
          if (secret.environmentId !== inPath.environmentId) {
            return new ForbiddenError('the API key belongs to another environment');
          }
          key = secret;
        }
      } else {
        // Not a client-side ID: the path names an environment by its key, which only a server or
        // mobile key of that environment may do (environment keys are not secret, nor unique).
        if (!secret || secret.kind === 'client') return new UnauthenticatedError(INVALID_SDK_KEY);
        if (secret.environmentKey !== credential.pathValue) {
          return new DomainError('NOT_FOUND', ENVIRONMENT_NOT_FOR_KEY);
        }
        key = secret;
      }
    } else {
      if (!resolved.presented) return new UnauthenticatedError(INVALID_SDK_KEY);
      key = resolved.presented;
    }
    if (!kinds.includes(key.kind)) return new ForbiddenError(`a ${kindName(key.kind)} cannot use this route`);
    if (!originAllowed(key, credential.origin)) {
      return new ForbiddenError(`origin ${credential.origin} is not authorized for this client-side ID`);
    }
    return key;
  }
}

interface ResolvedCredential {
  path: CachedSdkKey | null | undefined;
  presented: CachedSdkKey | null | undefined;
}
