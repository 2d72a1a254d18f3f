import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, expectHealthy, givenBrowser, sessionOf, signedInContext } from '../helpers/browser.js';
import { givenFlag, givenState } from '../helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { defaultProjectOf } from '../helpers/webhooks.js';

let server: TestServer;
let browser: Browser;
let owner: GivenOrg;
let developer: GivenOrg;
let flagId: string;
const CREATED = 53;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '100000' }),
    givenBrowser(),
  ]);
  owner = await givenOrg(server.url);
  const project = await defaultProjectOf(server.url, owner);
  // More flags than a page holds, so the log pages by cursor.
  for (let i = 0; i < CREATED - 1; i++)
    await givenFlag(server, owner, project, { key: `flag-${String(i).padStart(2, '0')}` });
  developer = await givenMember(server.url, owner, 'developer');
  const flag = await givenFlag(server, developer, project, { key: 'dev-made' });
  flagId = flag.id;
  await givenState(server, developer, flag.id, project.env.staging!, { on: true });
  await givenState(server, owner, flag.id, project.env.dev!, { on: true });
});

const actions = (page: Page) =>
  page.locator('.history > li[data-action]').evaluateAll((items) => items.map((i) => i.getAttribute('data-action')));
const status = (page: Page) =>
  page
    .getByRole('status')
    .filter({ hasText: /entr|Nothing/ })
    .textContent();

describe('the audit log in the console', () => {
  it('filters narrow the list (action, actor, environment, resource, dates), pages by cursor, and the chain verifies', async () => {
    const context = await signedInContext(browser, server.url, sessionOf(owner));
    const page = await context.newPage();
    await page.goto('/p/default/flags');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL('**/audit');
    await expect.poll(() => status(page)).toMatch(/^1–50 of \d+ entries$/);
    await expectAccessible(page, 'the audit log');

    await page.getByLabel(/^Action/).selectOption('flag.created');
    await expect.poll(() => status(page)).toBe(`1–50 of ${CREATED} entries`);
    expect(new Set(await actions(page))).toEqual(new Set(['flag.created']));
    await page.getByRole('button', { name: 'Older' }).click();
    await expect.poll(() => status(page)).toBe(`51–${CREATED} of ${CREATED} entries`);
    expect(await actions(page)).toHaveLength(CREATED - 50);
    await page.getByRole('button', { name: 'Newer' }).click();
    await expect.poll(() => status(page)).toBe(`1–50 of ${CREATED} entries`);

    // Whoever did it: the developer made one flag and changed it in staging.
    await page.getByLabel(/^Action/).selectOption('');
    await page.getByLabel('Actor').selectOption(developer.userId);
    await expect.poll(() => status(page)).toBe('1–2 of 2 entries');
    expect(await actions(page)).toEqual(['flag.state.updated', 'flag.created']);
    await page.getByLabel(/^Environment/).selectOption({ label: 'Default / Staging' });
    await expect.poll(() => status(page)).toBe('1–1 of 1 entry');
    expect(await page.locator('.history > li').first().textContent()).toMatch(/turned on/);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page
      .locator('.history > li[data-action="flag.state.updated"]')
      .first()
      .getByRole('button', { name: 'Only this flag' })
      .click();
    await expect.poll(() => status(page)).toBe('1–3 of 3 entries');
    expect(page.url()).toContain(`resource=${flagId}`);
    const yesterday = new Date(Date.now() - 86_400_000);
    const day = `${yesterday.getFullYear()}-${String(yesterday.getMonth() + 1).padStart(2, '0')}-${String(yesterday.getDate()).padStart(2, '0')}`;
    await page.getByLabel(/^To/).fill(day);
    await expect.poll(() => status(page)).toBe('Nothing recorded matches.');
    await page.getByLabel(/^From/).fill(day);
    await page.getByLabel(/^To/).fill('');
    await expect.poll(() => status(page)).toBe('1–3 of 3 entries');

    await page.getByRole('button', { name: 'Verify the hash chain' }).click();
    await expect
      .poll(() => page.locator('[data-field="chain"]').textContent())
      .toMatch(/^Verified: all \d+ entries are as they were written$/);
    // An entry changed behind the API's back: the check names it.
    await server.sql(
      `update audit_entries set details = jsonb_set(details, '{key}', '"tampered"') where seq = 3 and organization_id = ?`,
      [owner.organizationId],
    );
    await page.getByRole('button', { name: 'Verify the hash chain' }).click();
    await expect.poll(() => page.locator('[data-field="chain"]').textContent()).toMatch(/^Broken at entry #3: /);
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it("a flag's history shows the same entries, in words, with who and where", async () => {
    const context = await signedInContext(browser, server.url, sessionOf(owner));
    const page = await context.newPage();
    await page.goto('/p/default/flags/dev-made');
    await page.getByRole('tab', { name: 'History' }).click();
    const items = page.locator('.history > li[data-action]');
    await expect.poll(() => items.count()).toBe(3);
    expect(await actions(page)).toEqual(['flag.state.updated', 'flag.state.updated', 'flag.created']);
    expect(await items.nth(1).textContent()).toMatch(/turned on/);
    expect(await items.nth(1).textContent()).toMatch(/Staging/);
    await items.nth(1).getByText('Details').click();
    expect(await items.nth(1).getByText('Request id').isVisible()).toBe(true);
    await expectAccessible(page, "a flag's history");
    expectHealthy(page);
    await context.close();
  }, 60_000);
});
