import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectHealthy, givenBrowser, sessionFor, signedInContext } from '../helpers/browser.js';
import { request } from '../helpers/client.js';
import { givenOrg } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' }),
    givenBrowser(),
  ]);
});

const stored = (page: import('playwright-core').Page) =>
  page.evaluate(() => JSON.parse(localStorage.getItem('vexil.session') ?? 'null'));

describe('console sessions', () => {
  it('refreshes an access token that is about to expire before using it, and keeps working', async () => {
    const org = await givenOrg(server.url);
    const tokens = await sessionFor(server.url, org.email, org.password);
    // As if the access token had 20 seconds left: under the refresh margin.
    const context = await signedInContext(browser, server.url, {
      ...tokens,
      expiresAt: Math.floor(Date.now() / 1000) + 20,
    });
    const page = await context.newPage();
    await page.goto('/p/default/flags');
    await expect.poll(() => page.getByRole('heading', { name: 'Flags', level: 1 }).isVisible()).toBe(true);
    const now = await stored(page);
    expect(now.refreshToken).not.toBe(tokens.refreshToken);
    expect(now.expiresAt).toBeGreaterThan(Math.floor(Date.now() / 1000) + 60);
    // The old refresh token was used once, by the console: the server now refuses it.
    expect(
      (await request(server.url, 'POST', '/v1/auth/refresh', { body: { refresh_token: tokens.refreshToken } })).status,
    ).toBe(401);
    expectHealthy(page);
    await context.close();
  }, 60_000);

  it('signs out cleanly, saying why, when the server refuses the refresh (reuse detected)', async () => {
    const org = await givenOrg(server.url);
    const tokens = await sessionFor(server.url, org.email, org.password);
    // Someone else used this refresh token first (a copy): the console's own use is then a reuse.
    expect(
      (await request(server.url, 'POST', '/v1/auth/refresh', { body: { refresh_token: tokens.refreshToken } })).status,
    ).toBe(200);
    const context = await signedInContext(browser, server.url, {
      ...tokens,
      expiresAt: Math.floor(Date.now() / 1000) - 5,
    });
    const page = await context.newPage();
    await page.goto('/p/default/flags');
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in', level: 1 }).isVisible()).toBe(true);
    expect(
      await page
        .getByRole('status')
        .filter({ hasText: /session ended/i })
        .count(),
    ).toBe(1);
    expect(await stored(page)).toBeNull();
    expectHealthy(page);
    await context.close();
  }, 60_000);

  it('signing out ends the refresh-token family on the server', async () => {
    const org = await givenOrg(server.url);
    const tokens = await sessionFor(server.url, org.email, org.password);
    const context = await signedInContext(browser, server.url, tokens);
    const page = await context.newPage();
    await page.goto('/p/default/flags');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/sign-in');
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in', level: 1 }).isVisible()).toBe(true);
    expect(await stored(page)).toBeNull();
    const refused = await request(server.url, 'POST', '/v1/auth/refresh', {
      body: { refresh_token: tokens.refreshToken },
    });
    expect(refused.status).toBe(401);
    expectHealthy(page);
    await context.close();
  }, 60_000);
});
