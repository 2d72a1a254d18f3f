import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectHealthy, givenBrowser, sessionFor, signedInContext } from '../helpers/browser.js';
import { graphql } from '../helpers/client.js';
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

  it('a flag page follows changes made elsewhere, and warns (then the server refuses) when they collide with edits in progress', async () => {
    const org = await givenOrg(server.url);
    const project = (await graphql(server.url, '{ project(slug: "default") { id } }', {}, org.auth)).data.project;
    await graphql(
      server.url,
      'mutation($p: ID!) { createFlag(projectId: $p, input: { key: "promo-banner", kind: boolean }) { id } }',
      { p: project.id },
      org.auth,
    );
    const [a, b] = await Promise.all([
      signedInContext(browser, server.url, await sessionFor(server.url, org.email, org.password)),
      signedInContext(browser, server.url, await sessionFor(server.url, org.email, org.password)),
    ]);
    const [pageA, pageB] = await Promise.all([a.newPage(), b.newPage()]);
    const url = '/p/default/flags/promo-banner?env=staging';
    await Promise.all([pageA.goto(url), pageB.goto(url)]);
    const targets = (page: typeof pageA) => page.getByLabel('Context keys served true');

    // B switches the flag on: A follows without a reload (nothing of A's is being edited).
    await pageB.getByRole('switch', { name: 'promo-banner in Staging' }).click();
    await pageA
      .getByRole('switch', { name: 'promo-banner in Staging' })
      .and(pageA.locator('[aria-checked="true"]'))
      .waitFor();

    // A starts editing; B saves a different change first.
    await targets(pageA).fill('user-a');
    await targets(pageA).blur();
    await targets(pageB).fill('user-b');
    await targets(pageB).blur();
    await pageB.getByRole('button', { name: 'Save targeting in Staging' }).click();
    await pageA.getByText(/This environment changed \(version \d+\) while you were editing/).waitFor();
    expect(await targets(pageA).inputValue()).toBe('user-a');

    await pageA.getByRole('button', { name: 'Save targeting in Staging' }).click();
    const refusal = pageA.locator('.savebar').getByRole('alert');
    await expect.poll(() => refusal.textContent()).toMatch(/version/i);
    expect(
      await pageA
        .locator('.savebar')
        .getByText(/Someone changed this environment first/)
        .count(),
    ).toBe(1);

    // Discarding shows B's change.
    await pageA.getByRole('button', { name: 'Discard my edits' }).click();
    await expect.poll(() => targets(pageA).inputValue()).toBe('user-b');
    expectHealthy(pageA);
    expectHealthy(pageB);
    await Promise.all([a.close(), b.close()]);
  }, 120_000);
});
