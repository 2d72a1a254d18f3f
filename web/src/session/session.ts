/**
 * The signed-in session: the access and refresh tokens of the REST auth routes.
 *
 * Both live in localStorage under one key, so every tab of the console shares one session and one
 * refresh-token family. Refresh tokens rotate and a reused one revokes the whole family, so two
 * tabs must never refresh with the same token: refreshes run under a Web Lock, and inside it a tab
 * first re-reads the store, adopting the pair another tab already obtained. The CSP of the console
 * pages (script-src 'self', connect-src 'self', no inline scripts) is what keeps scripts other than
 * the console's own from reading the store; a stolen refresh token that is used after the console
 * used it revokes the family and signs every tab out.
 */

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Unix seconds at which the access token expires. */
  expiresAt: number;
  /** Unix seconds at which this browser received it (to refresh ahead by a share of its lifetime). */
  issuedAt?: number;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const KEY = 'vexil.session';
/** Refresh this long before the access token expires (seconds): a minute, or a quarter of a short lifetime. */
function earlyBy(tokens: Tokens): number {
  const lifetime = tokens.expiresAt - (tokens.issuedAt ?? tokens.expiresAt - 3600);
  return Math.min(60, Math.max(1, lifetime / 4));
}
const fresh = (tokens: Tokens) => tokens.expiresAt - earlyBy(tokens) > Date.now() / 1000;

type Listener = (tokens: Tokens | null, reason?: string) => void;

function read(): Tokens | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Tokens;
    return typeof parsed.accessToken === 'string' && typeof parsed.refreshToken === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

/** POSTs JSON to a REST route; a non-2xx answer throws its `error` message. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError('The server cannot be reached. Check your connection and try again.', 0);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const message = (parsed as { error?: string } | undefined)?.error ?? `The server answered ${res.status}.`;
    throw new ApiError(message, res.status);
  }
  return parsed as T;
}

interface RestTokens {
  access_token: string;
  refresh_token: string;
  expires_at: number;
}
const fromRest = (t: RestTokens): Tokens => ({
  accessToken: t.access_token,
  refreshToken: t.refresh_token,
  expiresAt: t.expires_at,
  issuedAt: Math.floor(Date.now() / 1000),
});

class Session {
  private tokens: Tokens | null = read();
  private listeners = new Set<Listener>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<Tokens | null> | null = null;

  constructor() {
    // Another tab signed in, refreshed or signed out.
    window.addEventListener('storage', (event) => {
      if (event.key !== KEY) return;
      const next = read();
      if (next?.refreshToken === this.tokens?.refreshToken) return;
      this.tokens = next;
      this.schedule();
      this.emit(next ? undefined : 'You were signed out in another tab.');
    });
    this.schedule();
  }

  get current(): Tokens | null {
    return this.tokens;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async signIn(email: string, password: string): Promise<void> {
    const answer = await postJson<{ tokens: RestTokens }>('/v1/auth/login', { email, password });
    this.adopt(fromRest(answer.tokens));
  }

  async signUp(input: { email: string; password: string; name: string; orgName: string }): Promise<void> {
    const answer = await postJson<{ tokens: RestTokens }>('/v1/auth/register', {
      email: input.email,
      password: input.password,
      name: input.name,
      org_name: input.orgName,
    });
    this.adopt(fromRest(answer.tokens));
  }

  /** A new pair (sign-in, or switchOrganization's session); the previous family is ended. */
  adopt(tokens: Tokens, previous: Tokens | null = null): void {
    this.tokens = { issuedAt: Math.floor(Date.now() / 1000), ...tokens };
    localStorage.setItem(KEY, JSON.stringify(this.tokens));
    if (previous) void this.revoke(previous.refreshToken);
    this.schedule();
    this.emit();
  }

  /** An access token valid for at least a little while, refreshing first when needed. */
  async accessToken(): Promise<string | null> {
    const tokens = this.tokens;
    if (!tokens) return null;
    if (fresh(tokens)) return tokens.accessToken;
    return (await this.refresh())?.accessToken ?? null;
  }

  /** Exchanges the refresh token once for every caller at the same time, in every tab. */
  refresh(): Promise<Tokens | null> {
    this.refreshing ??= this.locked(() => this.exchange()).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  async signOut(reason?: string): Promise<void> {
    const tokens = this.tokens;
    this.clear(reason);
    if (tokens) await this.revoke(tokens.refreshToken);
  }

  private async exchange(): Promise<Tokens | null> {
    const used = this.tokens;
    const stored = read();
    if (!stored) {
      this.clear('Your session ended. Sign in again.');
      return null;
    }
    // Another tab refreshed while this one waited for the lock: take its pair.
    if (stored.refreshToken !== used?.refreshToken && fresh(stored)) {
      this.tokens = stored;
      this.schedule();
      this.emit();
      return stored;
    }
    try {
      const answer = await postJson<RestTokens>('/v1/auth/refresh', { refresh_token: stored.refreshToken });
      const next = fromRest(answer);
      this.tokens = next;
      localStorage.setItem(KEY, JSON.stringify(next));
      this.schedule();
      this.emit();
      return next;
    } catch (e) {
      // Refused (revoked, expired, or reused elsewhere, which revoked the family): sign out cleanly.
      if (e instanceof ApiError && e.status >= 400 && e.status < 500) {
        this.clear(`Your session ended: ${e.message}. Sign in again.`);
        return null;
      }
      throw e;
    }
  }

  private async locked<T>(work: () => Promise<T>): Promise<T> {
    if (typeof navigator !== 'undefined' && navigator.locks) {
      return navigator.locks.request('vexil.session.refresh', work);
    }
    return work();
  }

  private async revoke(refreshToken: string): Promise<void> {
    await postJson('/v1/auth/logout', { refresh_token: refreshToken }).catch(() => undefined);
  }

  private clear(reason?: string): void {
    this.tokens = null;
    localStorage.removeItem(KEY);
    this.schedule();
    this.emit(reason);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (!this.tokens) return;
    // Refresh ahead of expiry, so live subscriptions reconnect with a valid token in time.
    const inMs = Math.max(1000, (this.tokens.expiresAt - earlyBy(this.tokens)) * 1000 - Date.now());
    // A refresh that could not reach the server is tried again a little later.
    const attempt = () => void this.refresh().catch(() => (this.timer = setTimeout(attempt, 15_000)));
    this.timer = setTimeout(attempt, Math.min(inMs, 2 ** 31 - 1));
  }

  private emit(reason?: string): void {
    for (const listener of this.listeners) listener(this.tokens, reason);
  }
}

export const session = new Session();
