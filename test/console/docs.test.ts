import type { Browser } from 'playwright-core';
import { beforeAll, expect, it } from 'vitest';
import { expectHealthy, givenBrowser, signedInContext } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), givenBrowser()]);
});

it('/docs renders the API reference in Chromium under its CSP: every tag, the management routes, no refusal', async () => {
  const context = await signedInContext(browser, server.url, null);
  const page = await context.newPage();
  await page.goto('/docs');
  await expect.poll(() => page.locator('.opblock').count(), { timeout: 15_000 }).toBeGreaterThan(40);
  for (const tag of ['Auth', 'Evaluation', 'Projects', 'Flags', 'API keys', 'Access tokens']) {
    expect(await page.locator(`.opblock-tag[data-tag="${tag}"]`).count(), tag).toBe(1);
  }
  expect(await page.getByText('/v1/projects/{id}/flags/{key}/environments/{envId}').count()).toBeGreaterThan(0);
  expectHealthy(page);
  await context.close();
}, 60_000);
