import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, expectHealthy, givenBrowser, sessionFor, signedInContext } from '../helpers/browser.js';
import { graphql, request } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { givenReceiver } from '../helpers/webhook-receiver.js';

/**
 * The main views, filled with a small realistic project, checked with axe in light, dark and at
 * phone width, and photographed. `npm run screenshots` writes the pictures to docs/screenshots/
 * (the README shows them); in `npm test` they go to a temporary directory.
 */
const out = process.env.VEXIL_SCREENSHOTS
  ? resolve(process.env.VEXIL_SCREENSHOTS)
  : mkdtempSync(join(tmpdir(), 'vexil-screens-'));
mkdirSync(out, { recursive: true });

let server: TestServer;
let browser: Browser;
let session: Awaited<ReturnType<typeof sessionFor>>;
let webhookId = '';

async function gql(query: string, variables: Record<string, unknown>, auth: Record<string, string>) {
  const r = await graphql(server.url, query, variables, auth);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data;
}

async function seed() {
  const email = 'maya@acme.example';
  const password = 'correct-horse-battery';
  const reg = await request(server.url, 'POST', '/v1/auth/register', {
    body: { email, password, name: 'Maya Chen', org_name: 'Acme' },
  });
  expect(reg.status).toBe(201);
  const auth = { authorization: `Bearer ${reg.body.tokens.access_token}` };
  const project = (await gql('{ project(slug: "default") { id environments { id key } } }', {}, auth)).project;
  const env = Object.fromEntries(project.environments.map((e: { id: string; key: string }) => [e.key, e.id]));

  await gql(
    'mutation($p: ID!, $input: CreateSegmentInput!) { createSegment(projectId: $p, input: $input) { id } }',
    {
      p: project.id,
      input: {
        key: 'beta-testers',
        name: 'Beta testers',
        description: 'People who opted in to early features',
        included: ['user-42', 'user-77'],
        rules: [{ clauses: [{ attribute: 'email', op: 'endsWith', values: ['@acme.example'] }] }],
      },
    },
    auth,
  );
  const flags = [
    {
      key: 'new-checkout',
      name: 'New checkout',
      kind: 'boolean',
      tags: ['checkout', 'web'],
      description: 'The one-page checkout',
    },
    { key: 'dark-mode', name: 'Dark mode', kind: 'boolean', tags: ['web'], temporary: false },
    {
      key: 'search-ranking',
      name: 'Search ranking',
      kind: 'string',
      tags: ['search'],
      variations: [
        { name: 'Classic', value: 'bm25' },
        { name: 'Semantic', value: 'vector' },
        { name: 'Hybrid', value: 'hybrid' },
      ],
    },
    {
      key: 'max-cart-items',
      name: 'Max cart items',
      kind: 'number',
      tags: ['checkout'],
      variations: [{ value: 50 }, { value: 100 }],
    },
    {
      key: 'mobile-onboarding',
      name: 'Mobile onboarding',
      kind: 'boolean',
      tags: ['mobile'],
      clientSideAvailable: true,
    },
  ];
  for (const input of flags) {
    await gql(
      'mutation($p: ID!, $input: CreateFlagInput!) { createFlag(projectId: $p, input: $input) { id } }',
      { p: project.id, input },
      auth,
    );
  }
  const state = (flagKey: string, envKey: string, input: Record<string, unknown>) =>
    gql(
      `mutation($p: ID!, $f: String!, $e: ID!, $input: FlagStateInput!) {
        updateFlagState(projectId: $p, flagKey: $f, environmentId: $e, expectedVersion: 1, input: $input) { version }
      }`,
      { p: project.id, f: flagKey, e: env[envKey], input },
      auth,
    );
  const checkout = {
    on: true,
    targets: [{ variation: 0, values: ['qa-bot'] }],
    rules: [
      {
        description: 'Beta testers first',
        clauses: [{ op: 'segmentMatch', values: ['beta-testers'] }],
        serve: { variation: 0 },
      },
      {
        description: 'Netherlands and Belgium, recent app versions',
        clauses: [
          { attribute: 'country', op: 'in', values: ['NL', 'BE'] },
          { attribute: 'appVersion', op: 'semverGt', values: ['4.2.0'] },
        ],
        serve: {
          rollout: {
            variations: [
              { variation: 0, weight: 25000 },
              { variation: 1, weight: 75000 },
            ],
          },
        },
      },
    ],
    fallthrough: { variation: 1 },
  };
  await state('new-checkout', 'staging', checkout);
  await state('new-checkout', 'dev', { ...checkout, fallthrough: { variation: 0 } });
  for (const e of ['dev', 'staging', 'production']) await state('dark-mode', e, { on: true });
  await state('search-ranking', 'dev', {
    on: true,
    fallthrough: {
      rollout: {
        variations: [
          { variation: 0, weight: 34000 },
          { variation: 1, weight: 33000 },
          { variation: 2, weight: 33000 },
        ],
      },
    },
  });
  const serverKey = (
    await gql(
      'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: SERVER, name: "checkout-service") { value } }',
      { e: env.staging },
      auth,
    )
  ).createSdkKey.value;
  await gql(
    'mutation($e: ID!) { createSdkKey(environmentId: $e, kind: MOBILE, name: "ios-app") { value } }',
    { e: env.staging },
    auth,
  );
  await gql(
    'mutation($e: ID!) { setAuthorizedOrigins(environmentId: $e, origins: ["https://shop.acme.example"]) { id } }',
    { e: env.staging },
    auth,
  );
  await gql(
    'mutation($input: CreateAccessTokenInput!) { createAccessToken(input: $input) { value } }',
    {
      input: {
        name: 'deploy pipeline',
        kind: 'SERVICE',
        permissions: ['flag:read', 'flag:write'],
        environmentIds: [env.dev, env.staging],
      },
    },
    auth,
  );
  for (const [name, role] of [
    ['Sam Okafor', 'developer'],
    ['Lena Vogel', 'viewer'],
  ] as const) {
    const person = `${name.split(' ')[0]!.toLowerCase()}@acme.example`;
    const r = await request(server.url, 'POST', '/v1/auth/register', {
      body: { email: person, password, name, org_name: `${name} home` },
    });
    expect(r.status).toBe(201);
    await gql(
      'mutation($email: String!, $role: Role!) { addMember(email: $email, role: $role) { role } }',
      { email: person, role },
      auth,
    );
  }
  await seedUsage(auth, serverKey);
  await seedGovernance(auth, project.id, env, password);
  return sessionFor(server.url, email, password);
}

/** Production requires approval; Sam asks for a change there; Maya schedules one in staging. */
async function seedGovernance(
  auth: Record<string, string>,
  projectId: string,
  env: Record<string, string>,
  password: string,
) {
  await gql(
    'mutation($e: ID!) { setEnvironmentApproval(environmentId: $e, requiresApproval: true, minApprovals: 1) { id } }',
    { e: env.production },
    auth,
  );
  const org = (await gql('{ organization { id } }', {}, auth)).organization.id;
  const sam = await sessionFor(server.url, 'sam@acme.example', password);
  const switched = await gql(
    'mutation($id: ID!) { switchOrganization(organizationId: $id) { tokens { accessToken } } }',
    { id: org },
    { authorization: `Bearer ${sam.accessToken}` },
  );
  const asSam = { authorization: `Bearer ${switched.switchOrganization.tokens.accessToken}` };
  const request = `mutation($p: ID!, $f: String!, $e: ID!, $input: FlagStateInput!, $v: Int!, $c: String, $at: DateTime) {
    requestFlagChange(projectId: $p, flagKey: $f, environmentId: $e, expectedVersion: $v, input: $input, comment: $c, applyAt: $at) { id }
  }`;
  const version = async (flagKey: string, envKey: string) =>
    (
      await gql(
        'query($f: String!, $e: String!) { project(slug: "default") { flag(key: $f) { state(environmentKey: $e) { version } } } }',
        { f: flagKey, e: envKey },
        auth,
      )
    ).project.flag.state.version;
  await gql(
    request,
    {
      p: projectId,
      f: 'new-checkout',
      e: env.production,
      v: await version('new-checkout', 'production'),
      input: { on: true, rules: [], fallthrough: { variation: 0 } },
      c: 'Ready for production: staging has run clean for a week.',
    },
    asSam,
  );
  // A stale request: Sam's two changes to dark-mode in production, the later one approved first.
  const darkMode = async (input: Record<string, unknown>, c: string) =>
    (
      await gql(
        request,
        { p: projectId, f: 'dark-mode', e: env.production, v: await version('dark-mode', 'production'), input, c },
        asSam,
      )
    ).requestFlagChange.id as string;
  const stale = await darkMode({ on: false }, 'Off in production until the contrast fix ships');
  const first = await darkMode({ targets: [{ variation: 1, values: ['support-desk'] }] }, 'Support keeps it off');
  const approve = 'mutation($id: ID!) { reviewPendingChange(id: $id, decision: APPROVE) { state } }';
  await gql(approve, { id: first }, auth);
  await gql(approve, { id: stale }, auth);
  await gql(
    request,
    {
      p: projectId,
      f: 'search-ranking',
      e: env.staging,
      v: await version('search-ranking', 'staging'),
      input: { on: true },
      c: 'Semantic search for everyone on Monday',
      at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    },
    auth,
  );
}

/** Evaluations of new-checkout in staging (for its metrics), and a webhook with a few deliveries. */
async function seedUsage(auth: Record<string, string>, serverKey: string) {
  for (let i = 0; i < 40; i++) {
    const r = await request(server.url, 'POST', '/v1/evaluate', {
      body: {
        flag_key: 'new-checkout',
        context: { key: `user-${i}`, country: i % 3 ? 'NL' : 'US', appVersion: '4.3.0' },
      },
      headers: { 'x-api-key': serverKey },
    });
    expect(r.status).toBe(200);
  }
  await server.app.sdkMetrics.flush();
  const receiver = await givenReceiver();
  const hook = await gql(
    'mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }',
    {
      input: {
        url: receiver.url,
        description: 'Flag changes to the deploy bot',
        eventTypes: ['flag.*', 'segment.updated'],
      },
    },
    auth,
  );
  await gql('mutation($id: ID!) { sendWebhookTest(id: $id) { id } }', { id: hook.createWebhook.webhook.id }, auth);
  webhookId = hook.createWebhook.webhook.id;
}

beforeAll(async () => {
  [server, browser] = await Promise.all([
    // Private targets allowed for the seeded webhook's receiver on this machine.
    startServer({ AUTH_RATE_LIMIT: '1000', MANAGEMENT_RATE_LIMIT: '10000', WEBHOOK_ALLOW_PRIVATE: 'true' }),
    givenBrowser(),
  ]);
  session = await seed();
}, 120_000);

interface View {
  name: string;
  path: string;
  ready: (page: Page) => Promise<unknown>;
  open?: (page: Page) => Promise<unknown>;
  /** The whole page, not only the first screen. */
  full?: boolean;
}

const VIEWS: View[] = [
  { name: 'flags', path: '/p/default/flags', ready: (p) => p.locator('tr[data-flag="search-ranking"]').waitFor() },
  {
    name: 'flag-targeting',
    path: '/p/default/flags/new-checkout?env=staging',
    ready: (p) => p.getByRole('listitem', { name: 'Rule 2' }).waitFor(),
    full: true,
  },
  {
    name: 'flag-history',
    path: '/p/default/flags/new-checkout?env=staging',
    ready: (p) => p.getByRole('tab', { name: 'History' }).waitFor(),
    open: async (p) => {
      await p.getByRole('tab', { name: 'History' }).click();
      await p.locator('.history > li').first().getByText('Details').click();
      await p.getByRole('table').first().waitFor();
    },
  },
  {
    name: 'flag-metrics',
    path: '/p/default/flags/new-checkout?env=staging',
    ready: (p) => p.getByRole('tab', { name: 'Metrics' }).waitFor(),
    open: async (p) => {
      await p.getByRole('tab', { name: 'Metrics' }).click();
      await p.locator('section[data-env="staging"] svg[role="img"]').waitFor();
    },
    full: true,
  },
  { name: 'stale-flags', path: '/p/default/stale-flags', ready: (p) => p.getByLabel(/^Quiet for/).waitFor() },
  {
    name: 'webhooks',
    path: '/webhooks',
    ready: (p) => p.getByRole('article').first().waitFor(),
  },
  {
    name: 'webhook-deliveries',
    get path() {
      return `/webhooks/${webhookId}`;
    },
    ready: (p) => p.getByRole('listitem', { name: /webhook.ping delivery/ }).waitFor(),
    open: (p) =>
      p
        .getByRole('listitem', { name: /webhook.ping delivery/ })
        .getByText('Attempts and payload')
        .click(),
  },
  {
    name: 'segment',
    path: '/p/default/segments/beta-testers',
    ready: (p) => p.getByRole('heading', { name: 'Rules' }).waitFor(),
  },
  {
    name: 'environments',
    path: '/p/default/environments',
    ready: (p) => p.getByRole('rowheader', { name: /checkout-service/ }).waitFor(),
  },
  { name: 'members', path: '/members', ready: (p) => p.getByRole('rowheader', { name: /Lena Vogel/ }).waitFor() },
  {
    name: 'access-tokens',
    path: '/tokens',
    ready: (p) => p.getByRole('rowheader', { name: /deploy pipeline/ }).waitFor(),
  },
  { name: 'approvals', path: '/p/default/approvals', ready: (p) => p.locator('tr[data-request]').first().waitFor() },
  {
    name: 'approval-request',
    path: '/p/default/approvals',
    ready: (p) => p.locator('tr[data-request]').filter({ hasText: 'new-checkout' }).waitFor(),
    open: async (p) => {
      await p.locator('tr[data-request]').filter({ hasText: 'new-checkout' }).getByRole('link').click();
      await p.getByRole('heading', { name: 'Your review' }).waitFor();
    },
    full: true,
  },
  {
    name: 'approval-propose-again',
    path: '/p/default/approvals?state=STALE',
    ready: (p) => p.locator('tr[data-request]').filter({ hasText: 'dark-mode' }).waitFor(),
    open: async (p) => {
      await p.locator('tr[data-request]').filter({ hasText: 'dark-mode' }).getByRole('link').click();
      await p.locator('[data-propose-again] [data-diff="against-now"]').waitFor();
    },
    full: true,
  },
  {
    name: 'approval-edit',
    path: '/p/default/scheduled',
    ready: (p) => p.locator('tr[data-request]').filter({ hasText: 'search-ranking' }).waitFor(),
    open: async (p) => {
      await p.locator('tr[data-request]').filter({ hasText: 'search-ranking' }).getByRole('link').click();
      await p.getByRole('button', { name: 'Edit request…' }).click();
      await p.locator('[data-edit-request]').getByRole('heading', { name: 'Rules' }).waitFor();
    },
    full: true,
  },
  {
    name: 'scheduled-changes',
    path: '/p/default/scheduled',
    ready: (p) => p.locator('tr[data-request]').filter({ hasText: 'search-ranking' }).waitFor(),
  },
  {
    name: 'audit-log',
    path: '/audit',
    ready: (p) => p.getByRole('listitem').filter({ hasText: 'flag.state.updated' }).first().waitFor(),
  },
];

async function shoot(page: Page, view: View, file: string, what: string) {
  await page.goto(view.path);
  await view.ready(page);
  await view.open?.(page);
  await expectAccessible(page, what);
  await page.screenshot({ path: join(out, file), fullPage: view.full ?? false });
  expect(readFileSync(join(out, file)).subarray(1, 4).toString()).toBe('PNG');
}

describe('screenshots of the main views (axe-checked)', () => {
  it('at 1280 px, light', async () => {
    const context = await signedInContext(browser, server.url, session, { width: 1280, height: 800 }, 'light');
    const page = await context.newPage();
    for (const view of VIEWS) await shoot(page, view, `${view.name}.png`, `${view.name} (light)`);
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it('in dark', async () => {
    const context = await signedInContext(browser, server.url, session, { width: 1280, height: 800 }, 'dark');
    const page = await context.newPage();
    for (const view of VIEWS.filter((v) =>
      ['flags', 'flag-targeting', 'flag-metrics', 'environments'].includes(v.name),
    )) {
      await shoot(page, view, `${view.name}-dark.png`, `${view.name} (dark)`);
    }
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it('at phone width', async () => {
    const context = await signedInContext(browser, server.url, session, { width: 390, height: 844 });
    const page = await context.newPage();
    for (const view of VIEWS.filter((v) =>
      ['flags', 'flag-metrics', 'webhooks', 'webhook-deliveries', 'audit-log', 'flag-targeting'].includes(v.name),
    )) {
      await shoot(page, view, `${view.name}-phone.png`, `${view.name} (phone)`);
    }
    // Nothing wider than the screen: the page itself never scrolls sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expectHealthy(page);
    await context.close();
  }, 120_000);

  it('the sign-in page', async () => {
    const context = await signedInContext(browser, server.url, null, { width: 1280, height: 800 });
    const page = await context.newPage();
    await page.goto('/sign-in');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expectAccessible(page, 'sign-in');
    await page.screenshot({ path: join(out, 'sign-in.png') });
    expectHealthy(page);
    await context.close();
  }, 60_000);
});
