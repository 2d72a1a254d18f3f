import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { givenApprovalRequired, PENDING, REQUEST, REVIEW } from '../helpers/approvals.js';
import { expectAccessible, expectHealthy, givenBrowser, sessionOf, signedInContext } from '../helpers/browser.js';
import { graphql } from '../helpers/client.js';
import { environmentsOf } from '../helpers/credentials.js';
import { givenFlag } from '../helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * What the author of a request does with it after proposing: propose a stale one again against
 * the flag as it is now (a new request, or applied at once where approval is no longer
 * required), and edit an open one (its approvals reset).
 */
let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' }),
    givenBrowser(),
  ]);
});

type Member = Awaited<ReturnType<typeof givenMember>>;

/** An organization whose production requires approval, with a developer and two reviewers. */
async function givenTeam(minApprovals = 1) {
  const owner = await givenOrg(server.url);
  const { projectId, byKey } = await environmentsOf(server.url, owner);
  const production = byKey.production!.id;
  await givenApprovalRequired(server, owner.auth, production, minApprovals);
  const [developer, reviewer, second] = await Promise.all([
    givenMember(server.url, owner, 'developer'),
    givenMember(server.url, owner, 'admin'),
    givenMember(server.url, owner, 'admin'),
  ]);
  return { owner, project: { id: projectId, env: { production } }, production, developer, reviewer, second };
}

async function gql(query: string, variables: Record<string, unknown>, who: { auth: Record<string, string> }) {
  const r = await graphql(server.url, query, variables, who.auth);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data;
}

/** A datetime-local input's value for `at` in this process's (and the browser's) time zone. */
const localInput = (at: Date) => {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}T${two(at.getHours())}:${two(at.getMinutes())}`;
};
const contextOf = (member: Member) => signedInContext(browser, server.url, sessionOf(member.session));

/** A request by `who` against version `v` of the flag's production state. */
const request = async (
  who: Member | GivenOrg,
  flagId: string,
  production: string,
  input: Record<string, unknown>,
  v = 1,
  comment: string | null = null,
) => (await gql(REQUEST, { f: flagId, e: production, v, input, comment }, who)).requestFlagChange;

const review = async (who: Member | GivenOrg, id: string) =>
  (await gql(REVIEW, { id, d: 'APPROVE' }, who)).reviewPendingChange;

/** A stale request: another change to the flag was approved first, then this one was. */
async function givenStaleRequest(
  team: Awaited<ReturnType<typeof givenTeam>>,
  key: string,
  input: Record<string, unknown> = { on: true },
) {
  const flag = await givenFlag(server, team.owner, team.project, { key });
  const stale = await request(team.developer, flag.id, team.production, input, 1, 'launch it');
  const first = await request(team.developer, flag.id, team.production, {
    targets: [{ variation: 0, values: ['qa-bot'] }],
  });
  expect((await review(team.reviewer, first.id)).state).toBe('APPLIED');
  expect((await review(team.reviewer, stale.id)).state).toBe('STALE');
  return { flag, id: stale.id as string };
}

/** The flag's production state, as the API answers it. */
async function productionState(who: GivenOrg, key: string, production: string) {
  const data = await gql(
    'query($k: String!, $e: ID!) { project(slug: "default") { flag(key: $k) { environmentState(environmentId: $e) { on version } } } }',
    { k: key, e: production },
    who,
  );
  return data.project.flag.environmentState as { on: boolean; version: number };
}

const ROLLOUT_RULES = [
  {
    clauses: [{ attribute: 'country', op: 'in', values: ['NL', 'BE'] }],
    serve: {
      rollout: {
        variations: [
          { variation: 0, weight: 50000 },
          { variation: 1, weight: 50000 },
        ],
      },
    },
  },
];

const againSection = (page: Page) => page.locator('[data-propose-again]');

describe('proposing a stale request again', () => {
  it('shows what changed in between and what it changes now; the new request is linked, reviewed from the start', async () => {
    const team = await givenTeam();
    const { id } = await givenStaleRequest(team, 'stale-launch');
    const context = await contextOf(team.developer);
    const page = await context.newPage();
    await page.goto(`/p/default/approvals/${id}`);
    await againSection(page).waitFor();

    // In between: someone else's targets went live. Against now: on, and those targets would go
    // (the request proposes the whole state it was made with).
    const between = againSection(page).locator('[data-diff="in-between"]');
    expect(await between.textContent()).toContain('targets.0.values.0');
    expect(await between.textContent()).toContain('"qa-bot"');
    const againstNow = againSection(page).locator('[data-diff="against-now"]');
    expect(await againstNow.locator('tr').filter({ hasText: /^on/ }).textContent()).toMatch(/false.*true/);
    expect(await againstNow.textContent()).toContain('targets.0.values.0');
    expect(await againSection(page).locator('[data-proposal-path]').textContent()).toContain(
      'Production requires 1 approval: this becomes a new request',
    );
    expect(await againSection(page).getByLabel('Comment for the reviewers (optional)').inputValue()).toBe('launch it');
    await expectAccessible(page, 'a stale request, with its proposal again');

    await againSection(page).getByRole('button', { name: 'Propose again' }).click();
    const outcome = againSection(page).locator('[data-outcome="requested"]');
    await outcome.waitFor();
    expect(await outcome.textContent()).toContain('waiting for 1 approval');
    await outcome.getByRole('link', { name: 'view the new request' }).click();
    await page.locator('.page-header .badge').filter({ hasText: 'Pending review' }).waitFor();
    const newId = page.url().split('/').pop()!;
    expect(newId).not.toBe(id);
    const stored = (await gql(PENDING, { id: newId }, team.owner)).pendingChange;
    expect(stored).toMatchObject({
      state: 'PENDING',
      baseVersion: 2,
      comment: 'launch it',
      approvals: 0,
      author: { id: team.developer.userId },
    });
    expect(stored.proposed).toMatchObject({ on: true, targets: [] });
    // The old one stays what it was.
    expect((await gql(PENDING, { id }, team.owner)).pendingChange.state).toBe('STALE');
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it('where the environment no longer requires approval, it applies at once and says so', async () => {
    const team = await givenTeam();
    // Rules as the API stores them (no negate, no description, a rollout without bucketBy): once
    // applied, the page finds the flag exactly as proposed, so both shapes of a state compare alike.
    const { flag, id } = await givenStaleRequest(team, 'stale-free', { on: true, rules: ROLLOUT_RULES });
    await gql(
      'mutation($e: ID!) { setEnvironmentApproval(environmentId: $e, requiresApproval: false) { id } }',
      { e: team.production },
      team.owner,
    );
    const context = await contextOf(team.developer);
    const page = await context.newPage();
    await page.goto(`/p/default/approvals/${id}`);
    await againSection(page).waitFor();
    expect(await againSection(page).locator('[data-proposal-path="apply"]').textContent()).toContain(
      'Production no longer requires approval: proposing it again applies the change at once',
    );
    await againSection(page).getByRole('button', { name: 'Apply it now' }).click();
    const outcome = againSection(page).locator('[data-outcome="applied"]');
    await outcome.waitFor();
    expect(await outcome.textContent()).toContain('Applied at once: Production no longer requires approval');
    expect(await productionState(team.owner, flag.key, team.production)).toEqual({ on: true, version: 3 });
    await againSection(page)
      .locator('[data-diff="against-now"]')
      .getByText('Nothing: the flag already is as proposed.')
      .waitFor();

    // Someone who may not change flags is shown the explanation, not the proposal.
    const viewer = await givenMember(server.url, team.owner, 'viewer');
    const viewerContext = await contextOf(viewer);
    const viewerPage = await viewerContext.newPage();
    await viewerPage.goto(`/p/default/approvals/${id}`);
    await viewerPage.locator('[data-note="stale"]').waitFor();
    expect(await againSection(viewerPage).count()).toBe(0);
    await viewerContext.close();
    expectHealthy(page);
    await context.close();
  }, 120_000);
});

describe('proposing a stale scheduled change again', () => {
  it('asks for a new time once its own has passed, and schedules it anew', async () => {
    const team = await givenTeam();
    const { byKey } = await environmentsOf(server.url, team.owner);
    const staging = byKey.staging!.id;
    const flag = await givenFlag(server, team.owner, team.project, { key: 'stale-schedule' });
    const soon = new Date(Date.now() + 2_000).toISOString();
    const scheduled = (
      await gql(
        REQUEST,
        { f: flag.id, e: staging, v: 1, input: { on: true }, comment: 'at noon', at: soon },
        team.developer,
      )
    ).requestFlagChange;
    // Staging needs no approval: a direct change moves the flag before the scheduled one's time.
    await gql(
      'mutation($f: ID!, $e: ID!) { updateFlagState(flagId: $f, environmentId: $e, expectedVersion: 1, input: { offVariation: 0 }) { version } }',
      { f: flag.id, e: staging },
      team.owner,
    );
    await expect
      .poll(async () => (await gql(PENDING, { id: scheduled.id }, team.owner)).pendingChange.state, { timeout: 15_000 })
      .toBe('STALE');

    const context = await contextOf(team.developer);
    const page = await context.newPage();
    await page.goto(`/p/default/approvals/${scheduled.id}`);
    await againSection(page).waitFor();
    expect(await againSection(page).locator('[data-proposal-path="request"]').textContent()).toContain(
      'Staging needs no approval: it becomes a scheduled change again',
    );
    expect(await againSection(page).textContent()).toContain('has passed: pick a new one');
    // Noon in 30 days (a change may be scheduled at most 366 days ahead), in the browser's time zone.
    const noon = new Date(Date.now() + 30 * 86_400_000);
    noon.setHours(12, 0, 0, 0);
    await againSection(page)
      .getByLabel(/Apply at/)
      .fill(localInput(noon));
    await againSection(page).getByRole('button', { name: 'Propose again' }).click();
    const outcome = againSection(page).locator('[data-outcome="requested"]');
    await outcome.waitFor();
    expect(await outcome.textContent()).toContain('Proposed again as a new request, scheduled');
    const href = await outcome.getByRole('link').getAttribute('href');
    const stored = (await gql(PENDING, { id: href!.split('/').pop() }, team.owner)).pendingChange;
    expect(stored).toMatchObject({ state: 'APPROVED', requiredApprovals: 0, baseVersion: 2, comment: 'at noon' });
    // 12:00 in the browser's time zone (the machine's, as is this process's).
    expect(new Date(stored.applyAt).getTime()).toBe(noon.getTime());
    expectHealthy(page);
    await context.close();
  }, 120_000);
});

describe('editing a pending request', () => {
  it('its author edits it, told that approvals reset; a new round starts with none; reviewers get no edit', async () => {
    const team = await givenTeam(2);
    const flag = await givenFlag(server, team.owner, team.project, { key: 'edited-launch' });
    const pending = await request(
      team.developer,
      flag.id,
      team.production,
      { on: true, rules: ROLLOUT_RULES },
      1,
      'first try',
    );
    expect((await review(team.reviewer, pending.id)).approvals).toBe(1);

    const reviewContext = await contextOf(team.second);
    const reviewPage = await reviewContext.newPage();
    await reviewPage.goto(`/p/default/approvals/${pending.id}`);
    await reviewPage.getByRole('button', { name: 'Approve' }).waitFor();
    expect(await reviewPage.getByRole('button', { name: 'Edit request…' }).count()).toBe(0);

    const context = await contextOf(team.developer);
    const page = await context.newPage();
    await page.goto(`/p/default/approvals/${pending.id}`);
    await page.getByRole('button', { name: 'Edit request…' }).click();
    const editor = page.locator('[data-edit-request]');
    await editor.waitFor();
    expect(await editor.locator('[data-note="edit-resets"]').textContent()).toContain(
      'the 1 approval given so far no longer counts',
    );
    expect(
      await editor.getByRole('switch', { name: 'Proposed: edited-launch in Production' }).getAttribute('aria-checked'),
    ).toBe('true');
    await editor.getByRole('listitem', { name: 'Rule 1' }).waitFor();
    // Nothing edited yet: nothing to save.
    expect(await editor.getByRole('button', { name: 'Save the request' }).isDisabled()).toBe(true);
    await expectAccessible(page, 'a request being edited by its author');
    const targets = editor.getByLabel('Context keys served true');
    await targets.fill('beta-1, beta-2');
    await targets.blur();
    await editor.getByLabel('Comment for the reviewers').fill('with the beta testers first');
    await editor.getByRole('button', { name: 'Save the request' }).click();
    await page.getByRole('status').filter({ hasText: 'Request updated: its approvals were reset' }).waitFor();
    await expect.poll(() => page.locator('[data-approvals]').textContent()).toBe('0 of 2');
    expect(await page.locator('[data-edit-request]').count()).toBe(0);
    expect(await page.getByText('(an earlier round: no longer counts)').count()).toBe(1);

    const stored = (await gql(PENDING, { id: pending.id }, team.owner)).pendingChange;
    expect(stored).toMatchObject({ state: 'PENDING', round: 2, approvals: 0, comment: 'with the beta testers first' });
    expect(stored.proposed).toMatchObject({ on: true, targets: [{ variation: 0, values: ['beta-1', 'beta-2'] }] });
    // The rule it proposed is kept as it was, its id too (negate: false now said outright).
    expect(stored.proposed.rules).toMatchObject([{ ...ROLLOUT_RULES[0], id: pending.proposed.rules[0].id }]);
    // The reviewer who had not reviewed yet sees the edit live, and may still approve.
    await expect.poll(() => reviewPage.locator('[data-approvals]').textContent()).toBe('0 of 2');
    expect(await reviewPage.locator('.changes').textContent()).toContain('beta-1');
    expectHealthy(page);
    expectHealthy(reviewPage);
    await Promise.all([context.close(), reviewContext.close()]);
  }, 120_000);
});
