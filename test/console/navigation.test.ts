import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { givenApprovalRequired, REQUEST, REVIEW } from '../helpers/approvals.js';
import {
  expectAccessible,
  expectHealthy,
  givenBrowser,
  sessionFor,
  sessionOf,
  signedInContext,
  subscribed,
} from '../helpers/browser.js';
import { graphql } from '../helpers/client.js';
import { environmentsOf } from '../helpers/credentials.js';
import { givenFlag, givenSegment } from '../helpers/flags.js';
import { givenMember, givenOrg } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * The shell around every view: the Approvals link counts what waits for the reviewer (live, and
 * in its accessible name), and the project switcher keeps the view the person is on.
 */
let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' }),
    givenBrowser(),
  ]);
});

async function gql(query: string, variables: Record<string, unknown>, auth: Record<string, string>) {
  const r = await graphql(server.url, query, variables, auth);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data;
}

const approvalsLink = (page: Page) =>
  page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Approvals/ });

describe('the Approvals link', () => {
  it('counts the requests waiting for this reviewer, live, in its accessible name', async () => {
    const owner = await givenOrg(server.url);
    const { projectId, byKey } = await environmentsOf(server.url, owner);
    const production = byKey.production!.id;
    await givenApprovalRequired(server, owner.auth, production);
    const [developer, reviewer] = await Promise.all([
      givenMember(server.url, owner, 'developer'),
      givenMember(server.url, owner, 'admin'),
    ]);
    const project = { id: projectId, env: {} };
    const [one, two, own] = await Promise.all(
      ['count-one', 'count-two', 'count-own'].map((key) => givenFlag(server, owner, project, { key })),
    );
    const request = async (auth: Record<string, string>, flagId: string) =>
      (await gql(REQUEST, { f: flagId, e: production, v: 1, input: { on: true } }, auth)).requestFlagChange
        .id as string;
    // The reviewer's own request does not wait for them (nobody reviews their own).
    await request(reviewer.auth, own!.id);

    const context = await signedInContext(browser, server.url, sessionOf(reviewer.session));
    const page = await context.newPage();
    const live = subscribed(page, 'ApprovalChanged');
    await page.goto('/p/default/flags');
    await live;
    await expect.poll(() => approvalsLink(page).textContent()).toBe('Approvals');
    await page.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });

    const first = await request(developer.auth, one!.id);

    await page.getByRole('link', { name: 'Approvals, 1 waiting', exact: true }).waitFor({ timeout: 2000 });
    await request(developer.auth, two!.id);
    await page.getByRole('link', { name: 'Approvals, 2 waiting', exact: true }).waitFor({ timeout: 2000 });
    expect(await approvalsLink(page).locator('[data-waiting]').textContent()).toBe('2');
    await expectAccessible(page, 'the navigation with a count of waiting requests');

    // Reviewed by them: no longer waiting for them.
    await gql(REVIEW, { id: first, d: 'APPROVE' }, reviewer.auth);
    await page.getByRole('link', { name: 'Approvals, 1 waiting', exact: true }).waitFor({ timeout: 2000 });
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expectHealthy(page);
    await context.close();

    // The developer requests but does not review: no count.
    const devContext = await signedInContext(browser, server.url, sessionOf(developer.session));
    const devPage = await devContext.newPage();
    await devPage.goto('/p/default/approvals');
    await devPage.getByRole('heading', { name: 'Approvals' }).waitFor();
    expect(await approvalsLink(devPage).textContent()).toBe('Approvals');
    expect(await approvalsLink(devPage).locator('[data-waiting]').count()).toBe(0);
    await devContext.close();
  }, 120_000);
});

describe('the project switcher', () => {
  it('lands on the same view of the other project; a detail page falls back to its list', async () => {
    const owner = await givenOrg(server.url);
    const { projectId } = await environmentsOf(server.url, owner);
    const flag = await givenFlag(server, owner, { id: projectId, env: {} }, { key: 'switch-flag' });
    const segment = await givenSegment(server, owner, { id: projectId, env: {} }, { key: 'switch-seg' });
    await gql('mutation { createProject(input: { name: "Mobile", slug: "mobile" }) { id } }', {}, owner.auth);
    const context = await signedInContext(
      browser,
      server.url,
      await sessionFor(server.url, owner.email, owner.password),
    );
    const page = await context.newPage();
    const switcher = page.getByRole('combobox', { name: 'Project' });
    const cases: [string, string][] = [
      ['/p/default/approvals?state=all', '/p/mobile/approvals'],
      ['/p/default/scheduled', '/p/mobile/scheduled'],
      ['/p/default/segments', '/p/mobile/segments'],
      ['/p/default/environments', '/p/mobile/environments'],
      ['/p/default/stale-flags', '/p/mobile/stale-flags'],
      [`/p/default/flags/${flag.key}`, '/p/mobile/flags'],
      [`/p/default/segments/${segment.key}`, '/p/mobile/segments'],
      ['/p/default/approvals/00000000-0000-4000-8000-000000000000', '/p/mobile/approvals'],
    ];
    for (const [from, to] of cases) {
      await page.goto(from);
      await expect.poll(() => switcher.inputValue()).toBe('default');
      await switcher.selectOption('mobile');
      await expect.poll(() => new URL(page.url()).pathname + new URL(page.url()).search, { message: from }).toBe(to);
      await expect.poll(() => switcher.inputValue()).toBe('mobile');
    }
    await context.close();
  }, 120_000);
});
