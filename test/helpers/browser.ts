import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { afterAll, expect } from 'vitest';
import { request } from './client.js';

/**
 * A real Chromium for the console's browser tests: Debian's `chromium` package (`.ci/run`
 * installs it), driven by playwright-core. Playwright's own browser downloads need the internet;
 * this uses the system browser, or CHROMIUM_PATH. Without one the tests fail saying so: they are
 * part of the suite, not optional.
 */
export const CHROMIUM_CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath(): string {
  const found = CHROMIUM_CANDIDATES.find((p): p is string => !!p && existsSync(p));
  if (!found) {
    throw new Error(
      'The console browser tests need Chromium and found none at ' +
        `${CHROMIUM_CANDIDATES.filter(Boolean).join(', ')}. Install Debian's package (apt-get install -y chromium), ` +
        'or point CHROMIUM_PATH at a Chrome or Chromium binary.',
    );
  }
  return found;
}

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** One headless Chromium per test file (each context in it is a fresh profile), closed after. */
export async function givenBrowser(): Promise<Browser> {
  // launch() gives the browser a fresh temporary user-data-dir of its own, removed on close.
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: FLAGS });
  afterAll(() => browser.close());
  return browser;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

/**
 * A browser context already signed in (the console's own localStorage session) as the holder of
 * `tokens`. Every page of it fails the test on a CSP violation or an uncaught error.
 */
export async function signedInContext(
  browser: Browser,
  base: string,
  tokens: Session | null,
  viewport = { width: 1280, height: 860 },
  colorScheme: 'light' | 'dark' = 'light',
  /** More of the context's settings (a time zone, a locale…). */
  more: BrowserContextOptions = {},
): Promise<BrowserContext> {
  // The console follows the system theme by default: colorScheme is what the "system" says.
  const context = await browser.newContext({ baseURL: base, viewport, colorScheme, reducedMotion: 'reduce', ...more });
  if (tokens) {
    // Runs in every document, about:blank included (which has no storage): only the console's.
    await context.addInitScript(
      ({ session, origin }) => {
        // Once per tab: a later sign-out (and its reload) must stay signed out.
        if (location.origin !== origin || sessionStorage.getItem('test.seeded')) return;
        sessionStorage.setItem('test.seeded', '1');
        localStorage.setItem('vexil.session', JSON.stringify(session));
      },
      { session: tokens, origin: new URL(base).origin },
    );
  }
  context.setDefaultTimeout(10_000);
  context.on('page', watchPage);
  return context;
}

/** Problems the page reported: CSP refusals, uncaught exceptions. Asserted empty by `expectHealthy`. */
const problems = new WeakMap<Page, string[]>();
function watchPage(page: Page) {
  const list: string[] = [];
  problems.set(page, list);
  page.on('pageerror', (e) => list.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) list.push(`csp: ${m.text()}`);
  });
}

export function expectHealthy(page: Page) {
  expect(problems.get(page) ?? []).toEqual([]);
}

/** Tokens for an account, from the REST login route (what the console's sign-in does). */
export async function sessionFor(base: string, email: string, password: string): Promise<Session> {
  const res = await request(base, 'POST', '/v1/auth/login', { body: { email, password } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return {
    accessToken: res.body.tokens.access_token,
    refreshToken: res.body.tokens.refresh_token,
    expiresAt: res.body.tokens.expires_at,
  };
}

export function sessionOf(tokens: { accessToken: string; refreshToken: string }): Session {
  const [, payload] = tokens.accessToken.split('.');
  const { exp } = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { exp: number };
  return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: exp };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core in the page (WCAG 2.1 A and AA rules) and fails on serious or critical
 * violations. Injected through the DevTools protocol, so the page's own CSP stays as served.
 */
export async function expectAccessible(page: Page, what: string) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<any> } }).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations
      .filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical')
      .map((v: { id: string; impact: string; nodes: { target: string[] }[] }) => ({
        id: v.id,
        impact: v.impact,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
      }));
  });
  expect(violations, `accessibility of ${what}`).toEqual([]);
}

/**
 * Resolves once the page asked for the subscription over graphql-ws, and the server had a moment
 * to register it: an event sent before that would be missed (the page refetches only on reconnect).
 */
export function subscribed(page: Page, operation: string): Promise<void> {
  return new Promise((resolve) => {
    page.on('websocket', (ws) =>
      ws.on('framesent', (frame) => {
        if (String(frame.payload).includes(`subscription ${operation}`)) setTimeout(resolve, 300);
      }),
    );
  });
}
