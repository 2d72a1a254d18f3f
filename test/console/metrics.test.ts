import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, expectHealthy, givenBrowser, sessionOf, signedInContext } from '../helpers/browser.js';
import { request } from '../helpers/client.js';
import { givenFlag } from '../helpers/flags.js';
import { givenMember } from '../helpers/givens.js';
import { givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from '../helpers/sdk.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
let world: SdkWorld;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000', EVALUATION_RATE_LIMIT: '100000' }),
    givenBrowser(),
  ]);
  world = await givenSdkWorld(server);
  // Serves variation 0 to alice and variation 1 to everyone else, in dev only.
  await givenDevFlag(
    server,
    world,
    { key: 'split-banner' },
    { on: true, targets: [{ variation: 0, values: ['alice'] }], fallthrough: { variation: 1 } },
  );
  await givenDevFlag(server, world, { key: 'always-on' }, { on: true, fallthrough: { variation: 0 } });
  await givenFlag(server, world.org, world.project, { key: 'forgotten' });
  await snapshotsCaughtUp(server, [world.dev.id]);

  const evaluate = (flagKey: string, contextKey: string) =>
    request(server.url, 'POST', '/v1/evaluate', {
      body: { flag_key: flagKey, context: { key: contextKey } },
      headers: { 'x-api-key': world.dev.server },
    });
  for (let i = 0; i < 4; i++) expect((await evaluate('split-banner', 'alice')).status).toBe(200);
  for (let i = 0; i < 3; i++) expect((await evaluate('split-banner', `carol-${i}`)).status).toBe(200);
  for (let i = 0; i < 2; i++) expect((await evaluate('always-on', `dave-${i}`)).status).toBe(200);
  const tracked = await request(server.url, 'POST', '/v1/track', {
    headers: { 'x-api-key': world.dev.server },
    body: { events: [{ kind: 'impression', flag_key: 'split-banner', variation: 1, context_key: 'carol-0' }] },
  });
  expect(tracked.status).toBe(202);
  // Counts are buffered in memory and written every few seconds: write them now.
  await server.app.sdkMetrics.flush();
  // Stale flags are the ones older than the days asked about.
  await server.sql("update flags set created_at = now() - interval '10 days' where project_id = ?", [world.project.id]);
});

describe('how flags are used, in the console', () => {
  it("a flag's evaluations per variation in a chart per environment, with when it was last evaluated", async () => {
    const context = await signedInContext(browser, server.url, sessionOf(world.org));
    const page = await context.newPage();
    await page.goto('/p/default/flags');
    const row = page.locator('tr[data-flag="split-banner"]');
    await expect.poll(() => row.locator('[data-field="last-evaluated"]').textContent()).toMatch(/^evaluated /);
    expect(await page.locator('tr[data-flag="forgotten"] [data-field="last-evaluated"]').textContent()).toBe(
      'never evaluated',
    );

    await row.getByRole('link', { name: 'split-banner' }).click();
    await page.getByRole('tab', { name: 'Metrics' }).click();
    const dev = page.getByRole('region', { name: 'Dev', exact: false }).and(page.locator('[data-env="dev"]'));
    const count = (variation: string, field: string) =>
      dev.locator(`tr[data-variation="${variation}"] [data-field="${field}"]`).textContent();
    await expect.poll(() => count('0', 'evaluations')).toBe('4');
    expect(await count('1', 'evaluations')).toBe('3');
    expect(await count('1', 'impressions')).toBe('1');
    expect(await dev.getByRole('img').getAttribute('aria-label')).toMatch(/true 4, false 3/);
    expect(await dev.locator('[data-field="last-evaluated"]').textContent()).toMatch(
      /^evaluated (now|\d+ (second|minute)s? ago)$/,
    );
    const staging = page.locator('section[data-env="staging"]');
    expect(await staging.locator('[data-field="last-evaluated"]').textContent()).toBe('never evaluated');
    expect(await staging.getByText('No evaluations in this range.').isVisible()).toBe(true);
    await expectAccessible(page, 'the metrics of a flag');

    // Another range and bucket count the same evaluations.
    await page.getByLabel('Range').selectOption('hour');
    expect(await page.getByLabel('Bucket').inputValue()).toBe('MINUTE');
    await expect.poll(() => count('0', 'evaluations')).toBe('4');
    await page.getByLabel('Range').selectOption('month');
    await page.getByLabel('Bucket').selectOption('HOUR');
    await expect.poll(() => count('1', 'evaluations')).toBe('3');
    expectHealthy(page);
    await context.close();
  }, 90_000);

  it('stale flags: a never-evaluated one and one serving a single variation, by the days chosen, linking to the flag', async () => {
    const context = await signedInContext(browser, server.url, sessionOf(world.org));
    const page = await context.newPage();
    await page.goto('/p/default/flags');
    await page.getByRole('link', { name: 'Stale flags' }).click();
    await page.waitForURL('**/p/default/stale-flags');
    // 30 days by default: the flags are only 10 days old.
    await expect.poll(() => page.getByText(/No stale flags/).isVisible()).toBe(true);
    await page.getByLabel('Quiet for at least').selectOption('7');
    const forgotten = page.locator('tr[data-flag="forgotten"]');
    await expect
      .poll(() => forgotten.locator('[data-field="reason"]').textContent())
      .toBe('Not evaluated in the last 7 days');
    expect(await forgotten.locator('[data-field="last-evaluated"]').textContent()).toBe('never evaluated');
    expect(await page.locator('tr[data-flag="always-on"] [data-field="reason"]').textContent()).toBe(
      'Served only true to everyone for 7 days',
    );
    expect(await page.locator('tr[data-flag="split-banner"]').count()).toBe(0);
    await expectAccessible(page, 'the stale flags');
    await forgotten.getByRole('link', { name: 'forgotten' }).click();
    await page.waitForURL('**/p/default/flags/forgotten');
    expectHealthy(page);
    await context.close();
  }, 60_000);

  it('a developer (no metrics:read) is offered neither the metrics tab nor stale flags', async () => {
    const developer = await givenMember(server.url, world.org, 'developer');
    const context = await signedInContext(browser, server.url, sessionOf(developer));
    const page = await context.newPage();
    await page.goto('/p/default/flags/split-banner');
    await expect.poll(() => page.getByRole('tab', { name: 'Targeting' }).isVisible()).toBe(true);
    expect(await page.getByRole('tab', { name: 'Metrics' }).count()).toBe(0);
    await page.goto('/p/default/flags');
    await expect.poll(() => page.locator('tr[data-flag="split-banner"]').isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: 'Stale flags' }).count()).toBe(0);
    expect(await page.locator('[data-field="last-evaluated"]').count()).toBe(0);
    expectHealthy(page);
    await context.close();
  }, 60_000);
});
