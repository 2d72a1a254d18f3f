import { OFREPProvider } from '@openfeature/ofrep-provider';
import { type Client, ErrorCode, OpenFeature } from '@openfeature/server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { givenDevFlag, givenSdkWorld, type SdkWorld, snapshotsCaughtUp } from './helpers/sdk.js';
import { startServer, type TestServer } from './helpers/server.js';

/** The real OpenFeature Node SDK with the OFREP provider, against a real Vexil server. */
let server: TestServer;
let world: SdkWorld;
let client: Client;

beforeAll(async () => {
  server = await startServer({
    AUTH_RATE_LIMIT: '10000',
    MANAGEMENT_RATE_LIMIT: '10000',
    EVALUATION_RATE_LIMIT: '100000',
  });
  world = await givenSdkWorld(server);
  await givenDevFlag(
    server,
    world,
    { key: 'new-checkout' },
    {
      on: true,
      rules: [
        {
          id: 'beta',
          clauses: [{ attribute: 'email', op: 'endsWith', values: ['@beta.example.com'] }],
          serve: { variation: 0 },
        },
      ],
      fallthrough: { variation: 1 },
    },
  );
  await givenDevFlag(
    server,
    world,
    { key: 'greeting', kind: 'string', variations: [{ value: 'Hello', name: 'formal' }, { value: 'Hey' }] },
    {
      on: true,
      rules: [{ id: 'young', clauses: [{ attribute: 'age', op: 'lt', values: [30] }], serve: { variation: 1 } }],
      fallthrough: { variation: 0 },
    },
  );
  await givenDevFlag(
    server,
    world,
    { key: 'max-items', kind: 'number', variations: [{ value: 10 }, { value: 2.5 }] },
    { on: true, fallthrough: { variation: 1 } },
  );
  await givenDevFlag(
    server,
    world,
    { key: 'layout', kind: 'json', variations: [{ value: { columns: 3, theme: 'dark' } }, { value: { columns: 1 } }] },
    {
      on: true,
      targets: [{ variation: 1, values: ['user-mobile'] }],
      fallthrough: { variation: 0 },
    },
  );
  await givenDevFlag(server, world, { key: 'off-flag' }, { on: false, offVariation: 1 });
  await snapshotsCaughtUp(server, [world.dev.id]);

  await OpenFeature.setProviderAndWait(
    new OFREPProvider({ baseUrl: server.url, headers: [['Authorization', `Bearer ${world.dev.server}`]] }),
  );
  client = OpenFeature.getClient();
});

afterAll(async () => {
  await OpenFeature.close();
});

describe('OpenFeature server SDK over OFREP', () => {
  it('evaluates a boolean flag, targeting by an attribute', async () => {
    const beta = await client.getBooleanDetails('new-checkout', false, {
      targetingKey: 'user-1',
      email: 'ann@beta.example.com',
    });
    expect(beta).toMatchObject({ flagKey: 'new-checkout', value: true, reason: 'TARGETING_MATCH', variant: '0' });
    expect(beta.flagMetadata).toMatchObject({ ruleId: 'beta' });
    expect(beta.errorCode).toBeUndefined();
    const other = await client.getBooleanDetails('new-checkout', true, {
      targetingKey: 'user-2',
      email: 'bob@example.com',
    });
    expect(other).toMatchObject({ value: false, reason: 'DEFAULT' });
  });

  it('evaluates string, number and object flags', async () => {
    expect(await client.getStringValue('greeting', 'default', { targetingKey: 'u', age: 25 })).toBe('Hey');
    const formal = await client.getStringDetails('greeting', 'default', { targetingKey: 'u', age: 60 });
    expect(formal).toMatchObject({ value: 'Hello', variant: 'formal', reason: 'DEFAULT' });
    expect(await client.getNumberValue('max-items', 0, { targetingKey: 'u' })).toBe(2.5);
    expect(await client.getObjectValue('layout', {}, { targetingKey: 'user-desktop' })).toEqual({
      columns: 3,
      theme: 'dark',
    });
    const targeted = await client.getObjectDetails('layout', {}, { targetingKey: 'user-mobile' });
    expect(targeted).toMatchObject({ value: { columns: 1 }, reason: 'TARGETING_MATCH' });
  });

  it('reports a disabled flag with its off variation and reason DISABLED', async () => {
    expect(await client.getBooleanDetails('off-flag', true, { targetingKey: 'u' })).toMatchObject({
      value: false,
      reason: 'DISABLED',
    });
  });

  it('returns the default with FLAG_NOT_FOUND for an unknown flag', async () => {
    const missing = await client.getBooleanDetails('no-such-flag', true, { targetingKey: 'u' });
    expect(missing).toMatchObject({ value: true, reason: 'ERROR', errorCode: ErrorCode.FLAG_NOT_FOUND });
    expect(await client.getStringValue('no-such-flag', 'fallback')).toBe('fallback');
  });

  it('returns the default with TYPE_MISMATCH when the flag is of another type', async () => {
    const wrong = await client.getNumberDetails('greeting', 7, { targetingKey: 'u' });
    expect(wrong).toMatchObject({ value: 7, reason: 'ERROR', errorCode: ErrorCode.TYPE_MISMATCH });
  });

  it('returns the default with a general error when the key is refused', async () => {
    await OpenFeature.setProviderAndWait(
      'revoked',
      new OFREPProvider({ baseUrl: server.url, headers: [['Authorization', 'Bearer vx_srv_not_a_key']] }),
    );
    const refused = await OpenFeature.getClient('revoked').getBooleanDetails('new-checkout', true, {
      targetingKey: 'u',
    });
    expect(refused.value).toBe(true);
    expect(refused.reason).toBe('ERROR');
    expect(refused.errorCode).toBe(ErrorCode.GENERAL);
  });
});
