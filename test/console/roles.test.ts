import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/auth/permissions.js';
import {
  expectAccessible,
  expectHealthy,
  givenBrowser,
  type Session,
  sessionOf,
  signedInContext,
} from '../helpers/browser.js';
import { graphql } from '../helpers/client.js';
import { givenFlag, givenSegment } from '../helpers/flags.js';
import { type GivenOrg, givenOrg } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
let owner: GivenOrg;
let projectId: string;
let devId: string;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' }),
    givenBrowser(),
  ]);
  owner = await givenOrg(server.url);
  const found = await graphql(
    server.url,
    '{ project(slug: "default") { id environments { id key } } }',
    {},
    owner.auth,
  );
  projectId = found.data.project.id;
  devId = found.data.project.environments.find((e: { key: string }) => e.key === 'dev').id;
  const project = { id: projectId, env: {} };
  await givenFlag(server, owner, project, { key: 'beta-banner', tags: ['web'] });
  await givenSegment(server, owner, project, { key: 'staff' });
});

/** A person with `role` in the owner's organization, and their session there. */
async function memberSession(role: Role): Promise<Session> {
  const person = await givenOrg(server.url);
  const added = await graphql(
    server.url,
    'mutation($email: String!, $role: Role!) { addMember(email: $email, role: $role) { role } }',
    { email: person.email, role },
    owner.auth,
  );
  expect(added.errors).toBeUndefined();
  const switched = await graphql(
    server.url,
    'mutation($id: ID!) { switchOrganization(organizationId: $id) { tokens { accessToken refreshToken } } }',
    { id: owner.organizationId },
    person.auth,
  );
  expect(switched.errors).toBeUndefined();
  return sessionOf(switched.data.switchOrganization.tokens);
}

const count = (page: Page, selector: string) => page.locator(selector).count();

describe('role-aware console', () => {
  it('a viewer sees no edit controls: no switches, no create, edit, kill or key buttons', async () => {
    const context = await signedInContext(browser, server.url, await memberSession('viewer'));
    const page = await context.newPage();

    await page.goto('/p/default/flags');
    const row = page.locator('tr[data-flag="beta-banner"]');
    await expect.poll(() => row.locator('td[data-env="staging"] [data-state]').getAttribute('data-state')).toBe('off');
    expect(await count(page, '[role=switch]')).toBe(0);
    expect(await page.getByRole('button', { name: /New flag|Kill/ }).count()).toBe(0);
    await expectAccessible(page, 'the flag list as a viewer');

    await row.getByRole('link', { name: 'beta-banner' }).click();
    await page.waitForURL('**/flags/beta-banner');
    await expect.poll(() => page.getByRole('heading', { name: 'Rules' }).isVisible()).toBe(true);
    expect(await count(page, '[role=switch]')).toBe(0);
    expect(await page.getByRole('button', { name: /Add rule|Add prerequisite|Save|Discard|Promote/ }).count()).toBe(0);
    await page.getByRole('tab', { name: 'Settings & variations' }).click();
    expect(await page.getByRole('button', { name: /Save settings|Archive|Delete/ }).count()).toBe(0);
    expect(await page.getByLabel('Name', { exact: true }).isDisabled()).toBe(true);

    await page.getByRole('link', { name: 'Environments & SDK keys' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Client-side ID' }).first().isVisible()).toBe(true);
    // Every role lists the keys, masked (the reference's Read group); only admins manage them.
    expect(await page.getByRole('heading', { name: 'SDK keys', exact: true }).count()).toBeGreaterThan(0);
    expect(await page.getByRole('button', { name: /New|Rotate|Revoke|Save origins|Rename|Delete/ }).count()).toBe(0);

    await page.getByRole('link', { name: 'Segments' }).click();
    await expect.poll(() => page.getByRole('link', { name: 'staff' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'New segment' }).count()).toBe(0);

    await page.getByRole('link', { name: 'Members' }).click();
    await expect.poll(() => page.getByRole('table').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: /Add member|Remove/ }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Access tokens' }).count()).toBe(0);

    await page.getByRole('link', { name: 'Settings' }).click();
    await expect.poll(() => page.getByText('not configured').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: /secret/i }).count()).toBe(0);
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it("a developer is offered flag edits but not key management, and a refused action shows the server's message", async () => {
    const context = await signedInContext(browser, server.url, await memberSession('developer'));
    const page = await context.newPage();
    await page.goto('/p/default/environments');
    await expect
      .poll(() => page.getByRole('heading', { name: 'SDK keys', exact: true }).first().isVisible())
      .toBe(true);
    expect(await page.getByRole('button', { name: /New key|Rotate/ }).count()).toBe(0);

    // The segment is used by a rule, so the server refuses to delete it; the page says why.
    const used = await graphql(
      server.url,
      `mutation($p: ID!, $env: ID!) {
        updateFlagState(projectId: $p, flagKey: "beta-banner", environmentId: $env, expectedVersion: 1,
          input: { rules: [{ clauses: [{ op: segmentMatch, values: ["staff"] }], serve: { variation: 0 } }] }) { version }
      }`,
      { p: projectId, env: devId },
      owner.auth,
    );
    expect(used.errors).toBeUndefined();
    await page.goto('/p/default/segments/staff');
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete segment' }).click();
    const notice = page.getByRole('alert').filter({ hasText: /beta-banner|used|rule/i });
    await expect.poll(() => notice.count()).toBeGreaterThan(0);
    expectHealthy(page);
    await context.close();
  }, 120_000);
});
