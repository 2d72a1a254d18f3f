import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { givenApprovalRequired } from '../helpers/approvals.js';
import {
  expectAccessible,
  expectHealthy,
  givenBrowser,
  sessionOf,
  signedInContext,
  subscribed,
} from '../helpers/browser.js';
import { graphql, request } from '../helpers/client.js';
import { environmentsOf, givenSdkKey } from '../helpers/credentials.js';
import { givenFlag, givenSegment } from '../helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from '../helpers/givens.js';
import { snapshotsCaughtUp } from '../helpers/sdk.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * The approvals inbox and a request's page (issue 12): in an environment that requires approval
 * a developer's switch asks for approval instead of applying, a reviewer's open inbox shows the
 * request live, their approval applies it, and what SDKs are served follows.
 */
let server: TestServer;
let browser: Browser;
let owner: GivenOrg;
let project: { id: string; env: Record<string, string> };
let developer: Awaited<ReturnType<typeof givenMember>>;
let reviewer: Awaited<ReturnType<typeof givenMember>>;
let productionKey: string;

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' }),
    givenBrowser(),
  ]);
  owner = await givenOrg(server.url);
  const { projectId, byKey } = await environmentsOf(server.url, owner);
  project = { id: projectId, env: Object.fromEntries(Object.entries(byKey).map(([k, e]) => [k, e.id])) };
  await givenApprovalRequired(server, owner.auth, project.env.production!);
  developer = await givenMember(server.url, owner, 'developer');
  reviewer = await givenMember(server.url, owner, 'admin');
  productionKey = (await givenSdkKey(server.url, owner, project.env.production!)).value;
});

const contextOf = (member: { session: { accessToken: string; refreshToken: string } }) =>
  signedInContext(browser, server.url, sessionOf(member.session));

async function evaluate(flagKey: string) {
  await snapshotsCaughtUp(server, [project.env.production!]);
  const res = await request(server.url, 'POST', '/v1/evaluate', {
    body: { flag_key: flagKey, context: { key: 'user-1' } },
    headers: { 'x-api-key': productionKey },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { value: unknown; reason: string };
}

/** A request proposed through the API, as the developer. */
async function givenRequest(flagId: string, input: Record<string, unknown>, comment = 'please') {
  const r = await graphql(
    server.url,
    `mutation($f: ID!, $e: ID!, $input: FlagStateInput!, $c: String) {
      requestFlagChange(flagId: $f, environmentId: $e, expectedVersion: 1, input: $input, comment: $c) { id }
    }`,
    { f: flagId, e: project.env.production, input, c: comment },
    developer.auth,
  );
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.requestFlagChange.id as string;
}

/** The notices stay a while (they link to the request): out of the way of the next click. */
async function dismissNotices(page: Page) {
  const buttons = page.locator('.notices').getByRole('button', { name: 'Dismiss' });
  while ((await buttons.count()) > 0) await buttons.first().click();
}

const row = (page: Page, flagKey: string) => page.locator('tr[data-request]').filter({ hasText: flagKey });

describe('approvals in the console', () => {
  it('a developer toggles in production: "approval requested"; the reviewer sees it live, approves, and SDKs get it', async () => {
    const flag = await givenFlag(server, owner, project, { key: 'checkout-v2' });
    const [devContext, reviewContext] = await Promise.all([contextOf(developer), contextOf(reviewer)]);
    const [devPage, reviewPage] = await Promise.all([devContext.newPage(), reviewContext.newPage()]);
    const inboxLive = subscribed(reviewPage, 'ApprovalChanged');
    await Promise.all([devPage.goto('/p/default/flags'), reviewPage.goto('/p/default/approvals')]);
    await inboxLive;
    await reviewPage.getByText('No requests match these filters.').waitFor();
    await expect.poll(() => reviewPage.getByText('Live', { exact: true }).isVisible()).toBe(true);
    await reviewPage.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });

    const toggle = devPage.getByRole('switch', { name: 'checkout-v2 in Production' });
    await expect.poll(() => toggle.getAttribute('aria-checked')).toBe('false');
    const answered = devPage.waitForResponse((r) => (r.request().postData() ?? '').includes('ToggleFlag'));
    await toggle.click();
    expect((await answered).status()).toBe(200);
    await devPage.getByRole('status').filter({ hasText: 'Approval requested' }).waitFor();
    // Not applied, and not snapped back silently: the switch shows what is live, the badge what waits.
    expect(await toggle.getAttribute('aria-checked')).toBe('false');
    await devPage.locator('tr[data-flag="checkout-v2"] td[data-env="production"] a[data-pending]').waitFor();
    expect(await devPage.locator('tr[data-flag="checkout-v2"] td[data-env="production"]').textContent()).toContain(
      'pending approval: on',
    );

    // The reviewer's inbox, open all along, shows it within a second, without a reload.
    await row(reviewPage, 'checkout-v2').waitFor({ timeout: 1000 });
    expect(await reviewPage.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await row(reviewPage, 'checkout-v2').textContent()).toContain('0 of 1');
    expect((await evaluate('checkout-v2')).reason).toBe('DISABLED');

    await row(reviewPage, 'checkout-v2').getByRole('link').click();
    await reviewPage.getByRole('heading', { name: 'Targeting: checkout-v2' }).waitFor();
    expect(await reviewPage.locator('.changes').textContent()).toMatch(/turned on/);
    await reviewPage.getByLabel(/Comment for the author/).fill('looks good');
    await reviewPage.getByRole('button', { name: 'Approve' }).click();
    await reviewPage.locator('[data-note="applied"]').waitFor();
    expect(await reviewPage.locator('[data-approvals]').textContent()).toBe('1 of 1');

    // Applied: the developer's switch follows live, and the SDK is served the new state.
    await toggle.and(devPage.locator('[aria-checked="true"]')).waitFor();
    await expect.poll(() => devPage.locator('tr[data-flag="checkout-v2"] a[data-pending]').count()).toBe(0);
    expect(await evaluate('checkout-v2')).toMatchObject({ value: true });
    expect(flag.key).toBe('checkout-v2');
    expectHealthy(devPage);
    expectHealthy(reviewPage);
    await Promise.all([devContext.close(), reviewContext.close()]);
  }, 120_000);

  it('the author is offered cancel but not review; a flag that changed meanwhile shows the stale explanation', async () => {
    const flag = await givenFlag(server, owner, project, { key: 'stale-banner' });
    const id = await givenRequest(flag.id, { on: true }, 'turn it on for the launch');

    const devContext = await contextOf(developer);
    const devPage = await devContext.newPage();
    const devLive = subscribed(devPage, 'FlagChanged');
    await devPage.goto(`/p/default/approvals/${id}`);
    await devPage.getByText('turn it on for the launch').waitFor();
    expect(await devPage.getByRole('button', { name: /Approve|Reject/ }).count()).toBe(0);
    expect(await devPage.getByRole('button', { name: 'Cancel request…' }).count()).toBe(1);

    const reviewContext = await contextOf(reviewer);
    const reviewPage = await reviewContext.newPage();
    const reviewLive = subscribed(reviewPage, 'FlagChanged');
    await reviewPage.goto(`/p/default/approvals/${id}`);
    await reviewPage.getByRole('button', { name: 'Approve' }).waitFor();
    await Promise.all([devLive, reviewLive]);
    // Another request to the same flag is approved first: the flag changes in production meanwhile.
    const other = await givenRequest(flag.id, { targets: [{ variation: 0, values: ['qa-bot'] }] }, 'qa first');
    const approved = await graphql(
      server.url,
      'mutation($id: ID!) { reviewPendingChange(id: $id, decision: APPROVE) { state } }',
      { id: other },
      owner.auth,
    );
    expect(approved.data?.reviewPendingChange.state, JSON.stringify(approved.errors)).toBe('APPLIED');
    // Both pages say so at once, before anyone acts.
    await reviewPage.locator('[data-note="stale"]').waitFor();
    expect(await reviewPage.locator('[data-note="stale"]').textContent()).toMatch(
      /flag changed after this was proposed.*Re-propose/,
    );
    await devPage.locator('[data-note="stale"]').waitFor();

    // Approving it does not apply it: it is stale, and the page explains why.
    await reviewPage.getByRole('button', { name: 'Approve' }).click();
    await reviewPage.locator('[data-note="stale"]').filter({ hasText: 'it was not applied' }).waitFor();
    expect(await reviewPage.locator('.page-header .badge').textContent()).toBe('Stale');
    await devPage.locator('.page-header .badge').filter({ hasText: 'Stale' }).waitFor();
    expect(await devPage.getByText(/changed in "production" since this was proposed/).count()).toBe(1);
    expectHealthy(devPage);
    expectHealthy(reviewPage);
    await Promise.all([devContext.close(), reviewContext.close()]);
  }, 120_000);

  it('targeting saves, promote, archive and segment changes reaching production become requests, each linked', async () => {
    const flag = await givenFlag(server, owner, project, { key: 'gated-everything' });
    const segment = await givenSegment(server, owner, project, { key: 'gated-staff' });
    // A rule in production that uses the segment, set while production did not require approval.
    const approval = (on: boolean) =>
      graphql(
        server.url,
        'mutation($e: ID!, $on: Boolean!) { setEnvironmentApproval(environmentId: $e, requiresApproval: $on) { id } }',
        { e: project.env.production, on },
        owner.auth,
      );
    await approval(false);
    const ruled = await graphql(
      server.url,
      `mutation($f: ID!, $e: ID!) { updateFlagState(flagId: $f, environmentId: $e, expectedVersion: 1,
        input: { rules: [{ clauses: [{ op: segmentMatch, values: ["gated-staff"] }], serve: { variation: 0 } }] }) { version } }`,
      { f: flag.id, e: project.env.production },
      owner.auth,
    );
    expect(ruled.errors).toBeUndefined();
    await approval(true);

    const context = await contextOf(developer);
    const page = await context.newPage();
    const requested = page.getByRole('status').filter({ hasText: 'Approval requested' });
    const pendingCount = async () =>
      (
        await graphql(
          server.url,
          'query($p: ID!) { pendingChanges(projectId: $p, flagId: null, states: [PENDING]) { data { kind flagKey segmentKey } } }',
          { p: project.id },
          owner.auth,
        )
      ).data.pendingChanges.data.filter(
        (c: { flagKey: string | null; segmentKey: string | null }) =>
          c.flagKey === 'gated-everything' || c.segmentKey === 'gated-staff',
      );

    // A targeting save: the edits go into the request, the page shows what is live, with a badge.
    await page.goto('/p/default/flags/gated-everything?env=production');
    const targets = page.getByLabel('Context keys served true');
    await targets.fill('qa-bot');
    await targets.blur();
    await page.getByRole('button', { name: 'Save targeting in Production' }).click();
    await requested.first().waitFor();
    await requested.first().getByRole('link', { name: 'View request' }).waitFor();
    await expect.poll(() => targets.inputValue()).toBe('');
    await page.locator('.targeting-head a[data-pending]').waitFor();

    // Promote from staging onto production.
    await page.getByRole('tab', { name: /Staging/ }).click();
    await page.getByLabel('Production').check();
    await page.getByRole('button', { name: 'Promote…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Copy to Production' }).click();
    await expect.poll(async () => (await pendingCount()).length).toBe(2);

    // Archive reaches every environment, production too.
    await dismissNotices(page);
    await page.getByRole('tab', { name: 'Settings & variations' }).click();
    await page.getByRole('button', { name: 'Archive' }).click();
    await expect
      .poll(async () => (await pendingCount()).map((c: { kind: string }) => c.kind).sort())
      .toEqual(['FLAG_ARCHIVE', 'FLAG_STATE', 'FLAG_STATE']);
    expect(await page.getByRole('button', { name: 'Archive' }).count()).toBe(1);

    // A segment a production rule uses.
    await dismissNotices(page);
    await page.goto(`/p/default/segments/${segment.key}`);
    await page.getByLabel('Always included (context keys)').fill('user-9');
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('status').filter({ hasText: 'Approval requested' }).last().waitFor();
    await expect.poll(async () => (await pendingCount()).length).toBe(4);
    expect(await page.getByLabel('Always included (context keys)').inputValue()).toBe('');
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it('an admin requires approval for an environment and sets how many; a developer sees the setting read-only', async () => {
    const context = await contextOf(reviewer);
    const page = await context.newPage();
    await page.goto('/p/default/environments');
    const staging = page.getByRole('region', { name: 'Staging' });
    await staging.getByLabel('Require approval for changes in Staging').check();
    await staging.getByLabel('Approvals needed').fill('2');
    await staging.getByRole('button', { name: 'Save approvals' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved the approval settings of Staging' }).waitFor();
    const stored = await graphql(
      server.url,
      '{ project(slug: "default") { environments { key requiresApproval minApprovals } } }',
      {},
      owner.auth,
    );
    expect(stored.data.project.environments.find((e: { key: string }) => e.key === 'staging')).toEqual({
      key: 'staging',
      requiresApproval: true,
      minApprovals: 2,
    });
    await context.close();

    const devContext = await contextOf(developer);
    const devPage = await devContext.newPage();
    await devPage.goto('/p/default/environments');
    const readOnly = devPage.getByRole('region', { name: 'Staging' }).locator('[data-approval="required"]');
    await readOnly.waitFor();
    expect(await readOnly.textContent()).toContain('2 approvals');
    expect(await devPage.getByRole('button', { name: 'Save approvals' }).count()).toBe(0);
    expectHealthy(devPage);
    await devContext.close();
    await graphql(
      server.url,
      'mutation($e: ID!) { setEnvironmentApproval(environmentId: $e, requiresApproval: false) { id } }',
      { e: project.env.staging },
      owner.auth,
    );
  }, 120_000);

  it('the inbox filters by state, and a rejected request says what became of it', async () => {
    const flag = await givenFlag(server, owner, project, { key: 'rejected-banner' });
    const id = await givenRequest(flag.id, { on: true });
    const r = await graphql(
      server.url,
      'mutation($id: ID!) { reviewPendingChange(id: $id, decision: REJECT, comment: "not before Friday") { state } }',
      { id },
      reviewer.auth,
    );
    expect(r.errors).toBeUndefined();
    const context = await contextOf(reviewer);
    const page = await context.newPage();
    await page.goto('/p/default/approvals');
    await page.locator('tr[data-request]').first().waitFor();
    expect(await row(page, 'rejected-banner').count()).toBe(0);
    await page.getByLabel('State').selectOption('REJECTED');
    await row(page, 'rejected-banner').waitFor();
    expect(page.url()).toContain('state=REJECTED');
    await row(page, 'rejected-banner').getByRole('link').click();
    await page.locator('[data-note="rejected"]').waitFor();
    expect(await page.getByText('not before Friday').count()).toBe(1);
    expect(await page.getByRole('button', { name: /Approve|Reject|Cancel request/ }).count()).toBe(0);
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it('axe finds nothing serious on the inbox and a request; a viewer sees no review or schedule controls', async () => {
    const flag = await givenFlag(server, owner, project, { key: 'a11y-banner' });
    const id = await givenRequest(flag.id, { on: true, rules: [] });
    const reviewContext = await contextOf(reviewer);
    const page = await reviewContext.newPage();
    await page.goto('/p/default/approvals');
    await row(page, 'a11y-banner').waitFor();
    await expectAccessible(page, 'the approvals inbox');
    await page.goto(`/p/default/approvals/${id}`);
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    await expectAccessible(page, 'an approval request');
    await reviewContext.close();

    const viewer = await givenMember(server.url, owner, 'viewer');
    const context = await contextOf(viewer);
    const viewerPage = await context.newPage();
    await viewerPage.goto(`/p/default/approvals/${id}`);
    await viewerPage.getByRole('heading', { name: 'Targeting: a11y-banner' }).waitFor();
    expect(await viewerPage.getByRole('button', { name: /Approve|Reject|Cancel request/ }).count()).toBe(0);
    expect(
      await viewerPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }).count(),
    ).toBe(0);
    await viewerPage.goto('/p/default/flags/a11y-banner?env=production');
    await viewerPage.getByRole('heading', { name: 'Scheduled changes' }).waitFor();
    expect(await viewerPage.getByRole('button', { name: /Schedule a change/ }).count()).toBe(0);
    await viewerPage.goto('/p/default/environments');
    await viewerPage.locator('[data-approval="required"]').waitFor();
    expect(await viewerPage.getByRole('button', { name: 'Save approvals' }).count()).toBe(0);
    expectHealthy(viewerPage);
    await context.close();
  }, 120_000);
});
