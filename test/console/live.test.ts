import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectHealthy, givenBrowser, sessionFor, signedInContext } from '../helpers/browser.js';
import { graphql } from '../helpers/client.js';
import { givenOrg } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ AUTH_RATE_LIMIT: '1000' }), givenBrowser()]);
});

describe('the flag list is live', () => {
  it('two screens on the flag list: one toggles, the other shows it within a second, without a reload', async () => {
    const org = await givenOrg(server.url);
    const project = (await graphql(server.url, '{ project(slug: "default") { id } }', {}, org.auth)).data.project;
    const created = await graphql(
      server.url,
      'mutation($p: ID!) { createFlag(projectId: $p, input: { key: "dark-mode", kind: boolean }) { id } }',
      { p: project.id },
      org.auth,
    );
    expect(created.errors).toBeUndefined();

    // Two separate browser profiles, each with its own session of the same person.
    const [a, b] = await Promise.all([
      signedInContext(browser, server.url, await sessionFor(server.url, org.email, org.password)),
      signedInContext(browser, server.url, await sessionFor(server.url, org.email, org.password)),
    ]);
    const [pageA, pageB] = await Promise.all([a.newPage(), b.newPage()]);
    await Promise.all([pageA.goto('/p/default/flags'), pageB.goto('/p/default/flags')]);
    const switchIn = (page: typeof pageA) => page.getByRole('switch', { name: 'dark-mode in Staging' });
    await expect.poll(() => switchIn(pageB).getAttribute('aria-checked')).toBe('false');
    await expect.poll(() => pageB.getByText('Live', { exact: true }).isVisible()).toBe(true);
    // Marks this document: a reload would start a new one without it.
    await pageB.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });

    const answered = pageA.waitForResponse(
      (r) =>
        r.url().endsWith('/graphql') &&
        r.request().method() === 'POST' &&
        (r.request().postData() ?? '').includes('ToggleFlag'),
    );
    await switchIn(pageA).click();
    expect((await answered).status()).toBe(200);
    // The bound: within a second of the toggle being answered.
    await switchIn(pageB).and(pageB.locator('[aria-checked="true"]')).waitFor({ timeout: 1000 });
    expect(await pageB.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);

    // And back, the other way round.
    await switchIn(pageB).click();
    await switchIn(pageA).and(pageA.locator('[aria-checked="false"]')).waitFor({ timeout: 1000 });

    expectHealthy(pageA);
    expectHealthy(pageB);
    await Promise.all([a.close(), b.close()]);
  }, 120_000);
});
