import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, expectHealthy, givenBrowser, signedInContext } from '../helpers/browser.js';
import { request } from '../helpers/client.js';
import { uniqueEmail } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { eventuallyPasses } from '../helpers/waiters.js';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' }),
    givenBrowser(),
  ]);
});

describe('the console, from sign-up to an SDK answer', () => {
  it('sign up → create a flag → add a rule → turn it on in staging → /v1/evaluate with a server key sees it', async () => {
    const context = await signedInContext(browser, server.url, null);
    const page = await context.newPage();

    await page.goto('/sign-up');
    await expectAccessible(page, 'sign-up');
    await page.getByLabel('Your name').fill('Ada Lovelace');
    await page.getByLabel('Work email').fill(uniqueEmail('ada'));
    await page.getByLabel('Password').fill('correct-horse-battery');
    await page.getByLabel('Organization').fill('Analytical Engines');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL('**/p/default/flags');
    await expect.poll(() => page.getByRole('heading', { name: 'Flags', level: 1 }).isVisible()).toBe(true);
    await expectAccessible(page, 'the empty flag list');

    // A new boolean flag, then its targeting in staging.
    await page.getByRole('button', { name: 'New flag' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New flag' });
    await dialog.getByLabel('Key').fill('new-checkout');
    await dialog.getByLabel('Tags (comma-separated)').fill('checkout, web');
    await expectAccessible(page, 'the new-flag dialog');
    await dialog.getByRole('button', { name: 'Create flag' }).click();
    await page.waitForURL('**/p/default/flags/new-checkout');

    await page.getByRole('tab', { name: /^Staging/ }).click();
    await page.waitForURL('**/flags/new-checkout?env=staging');
    await page.getByRole('button', { name: 'Add rule' }).click();
    const rule = page.getByRole('listitem', { name: 'Rule 1' });
    await rule.getByLabel('Attribute').fill('email');
    await rule.getByLabel('Operator').selectOption('endsWith');
    await rule.getByLabel('Values, one per line').fill('@example.com');
    await rule.getByLabel('Values, one per line').blur();
    await rule.getByLabel('Rule 1 serves').selectOption({ label: 'true' });
    await page.getByLabel('When no target or rule matches, serve').selectOption({ label: 'false' });
    await expectAccessible(page, 'the rule editor');
    await page.getByRole('button', { name: 'Save targeting in Staging' }).click();
    await expect.poll(() => page.getByText('Saved the targeting of new-checkout in Staging.').isVisible()).toBe(true);

    const toggle = page.getByRole('switch', { name: 'new-checkout in Staging' });
    await expect.poll(() => toggle.getAttribute('aria-checked')).toBe('false');
    await toggle.click();
    await expect.poll(() => toggle.getAttribute('aria-checked')).toBe('true');

    // A server key for staging, shown once.
    await page.getByRole('link', { name: 'Environments & SDK keys' }).click();
    const staging = page.getByRole('region', { name: 'Staging' });
    await staging.getByRole('button', { name: 'New key' }).click();
    await page
      .getByRole('dialog', { name: /New SDK key/ })
      .getByRole('button', { name: 'Create key' })
      .click();
    const shown = page.getByRole('dialog', { name: 'Copy the new key now' });
    const key = (await shown.locator('code').textContent())!;
    expect(key).toMatch(/^vx_srv_/);
    await expectAccessible(page, 'the new key dialog');
    await shown.getByRole('button', { name: 'I have copied it' }).click();

    const evaluate = (email: string) =>
      request(server.url, 'POST', '/v1/evaluate', {
        body: { flag_key: 'new-checkout', context: { key: 'user-1', email } },
        headers: { 'x-api-key': key },
      });
    await eventuallyPasses(async () => {
      const matched = await evaluate('ann@example.com');
      expect(matched.status).toBe(200);
      expect(matched.body).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    });
    expect((await evaluate('bob@elsewhere.org')).body).toMatchObject({ value: false, reason: 'DEFAULT' });

    // The flag list shows it on in staging only; a refused action shows the server's words.
    await page.getByRole('link', { name: 'Flags' }).click();
    const row = page.locator('tr[data-flag="new-checkout"]');
    await expect
      .poll(() => row.locator('td[data-env="staging"] [role=switch]').getAttribute('aria-checked'))
      .toBe('true');
    expect(await row.locator('td[data-env="production"] [role=switch]').getAttribute('aria-checked')).toBe('false');
    await page.getByRole('button', { name: 'New flag' }).first().click();
    await page.getByRole('dialog', { name: 'New flag' }).getByLabel('Key').fill('new-checkout');
    await page.getByRole('dialog', { name: 'New flag' }).getByRole('button', { name: 'Create flag' }).click();
    const refusal = page.getByRole('dialog', { name: 'New flag' }).getByRole('alert');
    await expect.poll(() => refusal.textContent()).toMatch(/already exists/i);
    expectHealthy(page);
    await context.close();
  }, 120_000);
});
