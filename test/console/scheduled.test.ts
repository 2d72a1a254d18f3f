import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PENDING } from '../helpers/approvals.js';
import { expectHealthy, givenBrowser, sessionFor, signedInContext } from '../helpers/browser.js';
import { graphql } from '../helpers/client.js';
import { environmentsOf } from '../helpers/credentials.js';
import { givenFlag } from '../helpers/flags.js';
import { givenOrg } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * A year whose 1 June is ahead but within the 366 days a change may be scheduled (and 1 June is
 * summer time in New York, UTC−4, whatever the year).
 */
const YEAR = (() => {
  const now = new Date();
  const year = now.getUTCFullYear();
  return now.getTime() < Date.UTC(year, 4, 25) ? year : year + 1;
})();

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' }),
    givenBrowser(),
  ]);
});

describe('scheduled changes in the console', () => {
  it("scheduled from a flag's environment in the person's time zone, listed (with UTC) on the flag and the project, and cancelled", async () => {
    const owner = await givenOrg(server.url);
    const { projectId } = await environmentsOf(server.url, owner);
    await givenFlag(server, owner, { id: projectId, env: {} }, { key: 'winter-sale' });
    const context = await signedInContext(
      browser,
      server.url,
      await sessionFor(server.url, owner.email, owner.password),
      undefined,
      'light',
      { timezoneId: 'America/New_York', locale: 'en-US' },
    );
    const page = await context.newPage();
    await page.goto('/p/default/flags/winter-sale?env=staging');
    await page.getByText('Nothing scheduled for this flag.').waitFor();

    await page.getByRole('button', { name: 'Schedule a change…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Turn on').check();
    await dialog.getByLabel(/At \(your time, America\/New_York\)/).fill(`${YEAR}-06-01T09:30`);
    await expect.poll(() => dialog.locator('[data-utc]').textContent()).toBe(`That is ${YEAR}-06-01 13:30 UTC.`);
    await dialog.getByLabel('Comment (optional)').fill('summer launch');
    await dialog.getByRole('button', { name: 'Schedule', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Scheduled: the change applies in Staging' }).waitFor();

    // On the flag: in local time, with the UTC value beside it.
    const row = page.locator('tr[data-scheduled]');
    await row.waitFor();
    expect(await row.textContent()).toContain(`Jun 1, ${YEAR}, 9:30 AM`);
    expect(await row.textContent()).toContain(`${YEAR}-06-01 13:30 UTC`);
    expect(await row.textContent()).toContain('Staging');
    expect(await row.textContent()).toContain('turned on');
    const id = (await row.getAttribute('data-scheduled'))!;
    const stored = await graphql(server.url, PENDING, { id }, owner.auth);
    expect(stored.data.pendingChange).toMatchObject({
      state: 'APPROVED',
      applyAt: `${YEAR}-06-01T13:30:00.000Z`,
      comment: 'summer launch',
      requiredApprovals: 0,
    });

    // The project's list of scheduled changes has it too.
    await page.getByRole('link', { name: 'Scheduled changes' }).click();
    const listed = page.locator(`tr[data-request="${id}"]`);
    await listed.waitFor();
    expect(await listed.textContent()).toContain('winter-sale');
    expect(await listed.textContent()).toContain(`Jun 1, ${YEAR}, 9:30 AM`);
    expect(await listed.textContent()).toContain(`${YEAR}-06-01 13:30 UTC`);

    // Rescheduled from its page: a new time, in local time again.
    await listed.getByRole('link').click();
    await page.getByRole('button', { name: 'Reschedule…' }).click();
    await page
      .getByRole('dialog')
      .getByLabel(/Apply at/)
      .fill(`${YEAR}-06-02T08:00`);
    await expect
      .poll(() => page.getByRole('dialog').locator('[data-utc]').textContent())
      .toBe(`That is ${YEAR}-06-02 12:00 UTC.`);
    await page.getByRole('dialog').getByRole('button', { name: 'Reschedule', exact: true }).click();
    await page.getByText(`Jun 2, ${YEAR}, 8:00 AM`).first().waitFor();
    expect((await graphql(server.url, PENDING, { id }, owner.auth)).data.pendingChange.applyAt).toBe(
      `${YEAR}-06-02T12:00:00.000Z`,
    );

    // Cancelled from the flag's list, it leaves both lists.
    await page.goto('/p/default/flags/winter-sale?env=staging');
    await row.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('Nothing scheduled for this flag.').waitFor();
    expect((await graphql(server.url, PENDING, { id }, owner.auth)).data.pendingChange.state).toBe('CANCELLED');
    await page.getByRole('link', { name: 'Scheduled changes' }).click();
    await page.getByText('No scheduled changes match these filters.').waitFor();
    expectHealthy(page);
    await context.close();
  }, 120_000);
});
