import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, expectHealthy, givenBrowser, sessionFor, signedInContext } from '../helpers/browser.js';
import { graphql } from '../helpers/client.js';
import { givenOrg, uniqueEmail } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' }),
    givenBrowser(),
  ]);
});

describe('invitations in the console', () => {
  it('the owner invites by email; the invitee opens the link signed out, signs up, and lands in the organization', async () => {
    const owner = await givenOrg(server.url, 'Invitation Org');
    const context = await signedInContext(
      browser,
      server.url,
      await sessionFor(server.url, owner.email, owner.password),
    );
    const page = await context.newPage();
    await page.goto('/members');
    const email = uniqueEmail('invitee');
    const form = page.getByRole('form', { name: 'Invite by email' });
    await form.getByLabel('Email to invite').fill(email);
    expect(await form.getByLabel('Role').inputValue()).toBe('developer');
    await form.getByLabel('Role').selectOption('developer');
    await form.getByRole('button', { name: 'Invite' }).click();
    // No SMTP in tests: the link is shown, once, to pass on.
    const created = page.getByRole('status', { name: 'Invitation created' });
    await created.waitFor();
    expect(await created.textContent()).toContain('SMTP is not configured');
    const link = (await created.locator('code').textContent())!;
    expect(link).toMatch(/\/invite#vx_/);
    await page.locator(`tr[data-invitation="${email}"]`).waitFor();

    const invitee = await signedInContext(browser, server.url, null);
    const inviteePage = await invitee.newPage();
    await inviteePage.goto(`/invite${new URL(link).hash}`);
    await inviteePage.getByRole('heading', { name: 'Join an organization on Vexil' }).waitFor();
    await expectAccessible(inviteePage, 'the invitation page');
    await inviteePage.getByLabel('Your name').fill('Ivy Invitee');
    await inviteePage.getByLabel('Password').fill('correct-horse-battery');
    await inviteePage.getByRole('button', { name: 'Create account and join' }).click();
    await inviteePage.waitForURL('**/p/default/flags');
    await expect
      .poll(() => inviteePage.getByLabel('Organization').locator('option:checked').textContent())
      .toBe('Invitation Org');
    expect(await inviteePage.locator('.whoami').textContent()).toBe('Ivy Invitee · developer');
    expectHealthy(inviteePage);
    await invitee.close();

    // Accepted: a member now, no longer waiting; the link works once.
    await page.reload();
    await page.getByRole('rowheader', { name: /Ivy Invitee/ }).waitFor();
    expect(await page.locator(`tr[data-invitation="${email}"]`).count()).toBe(0);
    const again = await graphql(
      server.url,
      'mutation($t: String!) { acceptInvitation(token: $t, name: "X", password: "correct-horse-battery") { user { id } } }',
      { t: new URL(link).hash.slice(1) },
    );
    expect(again.errors?.[0]?.message).toMatch(/already been used/);
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it('someone with an account signs in on the invitation page, then accepts with it', async () => {
    const owner = await givenOrg(server.url, 'Second Org');
    const person = await givenOrg(server.url, 'Their Own Org');
    const invited = await graphql(
      server.url,
      'mutation($e: String!) { inviteMember(email: $e, role: viewer) { acceptUrl } }',
      { e: person.email },
      owner.auth,
    );
    expect(invited.errors).toBeUndefined();
    const context = await signedInContext(browser, server.url, null);
    const page = await context.newPage();
    await page.goto(`/invite${new URL(invited.data.inviteMember.acceptUrl).hash}`);
    await page.getByRole('button', { name: 'Sign in to accept' }).click();
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(person.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Accept the invitation' }).click();
    await page.waitForURL('**/p/default/flags');
    await expect.poll(() => page.getByLabel('Organization').locator('option:checked').textContent()).toBe('Second Org');
    expect(await page.locator('.whoami').textContent()).toBe('Test Owner · viewer');
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it('a pending invitation is revoked from the list, and its link then says so', async () => {
    const owner = await givenOrg(server.url);
    const invited = await graphql(
      server.url,
      'mutation($e: String!) { inviteMember(email: $e, role: viewer) { acceptUrl } }',
      { e: uniqueEmail('revoked') },
      owner.auth,
    );
    expect(invited.errors).toBeUndefined();
    const context = await signedInContext(
      browser,
      server.url,
      await sessionFor(server.url, owner.email, owner.password),
    );
    const page = await context.newPage();
    await page.goto('/members');
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke invitation' }).click();
    await page.getByText('No invitations waiting.').waitFor();

    const stranger = await signedInContext(browser, server.url, null);
    const strangerPage = await stranger.newPage();
    await strangerPage.goto(`/invite${new URL(invited.data.inviteMember.acceptUrl).hash}`);
    await strangerPage.getByLabel('Your name').fill('Late Larry');
    await strangerPage.getByLabel('Password').fill('correct-horse-battery');
    await strangerPage.getByRole('button', { name: 'Create account and join' }).click();
    await strangerPage.getByRole('alert').filter({ hasText: 'this invitation was revoked' }).waitFor();
    expectHealthy(strangerPage);
    await Promise.all([context.close(), stranger.close()]);
  }, 120_000);
});
