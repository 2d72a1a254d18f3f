import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from './helpers/client.js';
import { uniqueEmail } from './helpers/givens.js';
import { freePort, startServerProcess } from './helpers/process.js';

describe('npm start without DATABASE_URL', () => {
  let dataDir = '';
  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('starts an embedded PostgreSQL, migrates, serves, stops cleanly, and keeps the data for the next run', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vexil-embedded-'));
    const env = { DATABASE_URL: undefined, DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) };
    const email = uniqueEmail('embedded');

    const first = await startServerProcess(env);
    expect(first.output()).toContain('starting an embedded PostgreSQL');
    expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    const registered = await request(first.url, 'POST', '/v1/auth/register', {
      body: { email, password: 'embedded-pass', name: 'E', org_name: 'Embedded Org' },
    });
    expect(registered.status).toBe(201);
    expect((await request(first.url, 'GET', '/readyz')).body).toEqual({ status: 'ready' });
    expect(await first.stop()).toBe(0);

    const second = await startServerProcess(env);
    const login = await request(second.url, 'POST', '/v1/auth/login', { body: { email, password: 'embedded-pass' } });
    expect(login.status).toBe(200);
    expect(await second.stop()).toBe(0);
  }, 180_000);
});
