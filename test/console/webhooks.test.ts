import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, expectHealthy, givenBrowser, sessionOf, signedInContext } from '../helpers/browser.js';
import { givenFlag } from '../helpers/flags.js';
import { type GivenOrg, givenMember, givenOrg } from '../helpers/givens.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { givenReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { defaultProjectOf, WEBHOOK_TEST_SETTINGS } from '../helpers/webhooks.js';

let server: TestServer;
let browser: Browser;
let owner: GivenOrg;
let receiver: WebhookReceiver;
beforeAll(async () => {
  // Receivers on this machine are allowed here only: a real server refuses private targets.
  [server, browser, receiver] = await Promise.all([
    startServer(WEBHOOK_TEST_SETTINGS),
    givenBrowser(),
    givenReceiver(),
  ]);
  owner = await givenOrg(server.url);
  await givenFlag(server, owner, await defaultProjectOf(server.url, owner), { key: 'beta-banner' });
});

describe('webhooks in the console', () => {
  it('create (secret shown once) → test ping 200 in the log → a flag change arrives signed → redeliver it', async () => {
    const context = await signedInContext(browser, server.url, sessionOf(owner));
    const page = await context.newPage();
    await page.goto('/p/default/flags');
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.waitForURL('**/webhooks');
    await expect.poll(() => page.getByText('No webhooks yet.').isVisible()).toBe(true);

    // The server's own words for a URL it refuses.
    await page.getByRole('button', { name: 'New webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'New webhook' });
    await dialog.getByLabel('URL').fill('http://user:pw@127.0.0.1:1/hooks');
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent()).toMatch(/must not carry credentials/);

    await dialog.getByLabel('URL').fill(receiver.url);
    await dialog.getByLabel('Description').fill('Flag changes to the test receiver');
    expect(await dialog.getByRole('checkbox', { name: 'every flag.* event' }).isChecked()).toBe(true);
    await expectAccessible(page, 'the new-webhook dialog');
    await dialog.getByRole('button', { name: 'Create webhook' }).click();

    const shown = page.getByRole('dialog', { name: 'Copy the signing secret now' });
    const secret = (await shown.locator('code').last().textContent())!;
    expect(secret).toMatch(/^whsec_/);
    receiver.secrets.push(secret);
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    const card = page.getByRole('article', { name: receiver.url });
    await card.waitFor();
    // Shown once: nowhere on the page any more.
    expect(await page.content()).not.toContain(secret);
    await expectAccessible(page, 'the webhook list');

    await card.getByRole('button', { name: 'Send test ping' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Test ping answered 200' }).count()).toBe(1);
    expect(receiver.verified.map((r) => r.payload.type)).toEqual(['webhook.ping']);

    await card.getByRole('link', { name: `Delivery log of ${receiver.url}` }).click();
    await page.waitForURL('**/webhooks/*');
    const ping = page.getByRole('listitem', { name: 'webhook.ping delivery, delivered' });
    await expect.poll(() => ping.locator('[data-field="status-code"]').textContent()).toBe('200');
    await ping.getByText('Attempts and payload').click();
    await expect.poll(() => ping.locator('pre.response').textContent()).toBe('ok');
    await expectAccessible(page, 'the delivery log');

    // A change in the console reaches the receiver, signed, and the log (which reads itself again).
    const log = page.url();
    await page.goto('/p/default/flags');
    const toggle = page.getByRole('switch', { name: /^beta-banner in / }).first();
    await toggle.click();
    await expect.poll(() => toggle.getAttribute('aria-checked')).toBe('true');
    const [, change] = await receiver.waitForVerified(2);
    expect(change!.payload.type).toBe('flag.state.updated');

    await page.goto(log);
    const delivered = page.getByRole('listitem', { name: 'flag.state.updated delivery, delivered' });
    await expect
      .poll(() => delivered.locator('[data-field="status-code"]').textContent(), { timeout: 15_000 })
      .toBe('200');
    await delivered.getByRole('button', { name: 'Redeliver' }).click();
    await expect.poll(() => page.getByText('flag.state.updated queued again.').isVisible()).toBe(true);
    const all = await receiver.waitForVerified(3);
    expect(all[2]!.id).toBe(change!.id);
    expect(all[2]!.payload.type).toBe('flag.state.updated');
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it('edit narrows it to an environment; rotating shows the new secret once and says how both sign; off by the server with its reason; delete asks first', async () => {
    const context = await signedInContext(browser, server.url, sessionOf(owner));
    const page = await context.newPage();
    await page.goto('/webhooks');
    const card = page.getByRole('article', { name: receiver.url });
    await card.getByRole('button', { name: 'Edit…' }).click();
    const edit = page.getByRole('dialog', { name: `Edit ${receiver.url}` });
    await edit.getByLabel('Description').fill('Staging flag changes');
    await edit.getByLabel(/^Only these environments/).selectOption({ label: 'Default / Staging' });
    await edit.getByRole('checkbox', { name: 'every segment.* event' }).check();
    await edit.getByRole('button', { name: 'Save webhook' }).click();
    await expect.poll(() => card.getByText('Staging flag changes').isVisible()).toBe(true);
    expect(await card.locator('dl').textContent()).toMatch(/flag\.\*segment\.\*.*Environments\s*Default \/ Staging/);

    await card.getByRole('button', { name: 'Rotate secret…' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
    expect(await confirm.textContent()).toMatch(/two signatures/);
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    const shown = page.getByRole('dialog', { name: 'Copy the signing secret now' });
    const secret = (await shown.locator('code').last().textContent())!;
    expect(secret).toMatch(/^whsec_/);
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    await expect.poll(() => card.getByText(/Previous secret/).isVisible()).toBe(true);

    await card.getByRole('switch', { name: `${receiver.url} active` }).click();
    await expect.poll(() => card.getByRole('switch').getAttribute('aria-checked')).toBe('false');

    // As the worker leaves an endpoint that failed for a day: off, with the reason, until turned on.
    await server.sql(
      `update webhooks set active = false, disabled_at = now(), failing_since = now() - interval '1 day',
        disabled_reason = 'failing since yesterday; last error: connect ECONNREFUSED' where organization_id = ?`,
      [owner.organizationId],
    );
    await page.reload();
    await expect
      .poll(() => card.getByRole('note').textContent())
      .toMatch(/Turned off by the server .*: failing since yesterday; last error: connect ECONNREFUSED/);
    await card.getByRole('switch', { name: `${receiver.url} active` }).click();
    await expect.poll(() => card.getByRole('note').count()).toBe(0);
    expect(await card.getByRole('switch').getAttribute('aria-checked')).toBe('true');

    await card.getByRole('button', { name: 'Delete…' }).click();
    await page
      .getByRole('dialog', { name: /Delete the webhook/ })
      .getByRole('button', { name: 'Delete webhook' })
      .click();
    await expect.poll(() => page.getByText('No webhooks yet.').isVisible()).toBe(true);
    expectHealthy(page);
    await context.close();
  }, 60_000);

  it('a server that keeps webhooks to public addresses refuses the local receiver, in its own words', async () => {
    const strict = await startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000' });
    const admin = await givenOrg(strict.url);
    const context = await signedInContext(browser, strict.url, sessionOf(admin));
    const page = await context.newPage();
    await page.goto('/webhooks');
    await page.getByRole('button', { name: 'New webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'New webhook' });
    await dialog.getByLabel('URL').fill(receiver.url);
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    await expect
      .poll(() => dialog.getByRole('alert').textContent())
      .toMatch(
        /^url refused: 127\.0\.0\.1 resolves to 127\.0\.0\.1 \(loopback\): only public addresses are webhook targets$/,
      );
    expectHealthy(page);
    await context.close();
  }, 60_000);

  it('a viewer is offered no webhooks at all', async () => {
    const viewer = await givenMember(server.url, owner, 'viewer');
    const context = await signedInContext(browser, server.url, sessionOf(viewer));
    const page = await context.newPage();
    await page.goto('/p/default/flags');
    await expect.poll(() => page.getByRole('link', { name: 'Audit log' }).isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: 'Webhooks' }).count()).toBe(0);
    await page.goto('/webhooks');
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/permission/i);
    expect(await page.getByRole('button', { name: /New webhook|Send test|Rotate|Delete|Redeliver/ }).count()).toBe(0);
    expectHealthy(page);
    await context.close();
  }, 60_000);
});
