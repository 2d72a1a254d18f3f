import { existsSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../src/http/console.js';
import { request } from './helpers/client.js';
import { startServer, type TestServer } from './helpers/server.js';

// `npm test` builds web/ first (pretest: scripts/console-build.ts), so web/dist is there.
const dist = new URL('../web/dist/', import.meta.url);

let server: TestServer;
beforeAll(async () => {
  expect(existsSync(new URL('index.html', dist)), 'web/dist/index.html: run npm run web:build').toBe(true);
  server = await startServer();
});

describe('the console at /', () => {
  it('serves the application with a strict CSP, revalidated on every load', async () => {
    for (const path of ['/', '/sign-in', '/p/default/flags', '/p/default/flags/new-checkout?env=staging']) {
      const res = await request(server.url, 'GET', path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.body).toContain('<div id="app">');
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
    expect(CONSOLE_CSP).not.toContain('unsafe-eval');
  });

  it('caches the hashed assets for a year', async () => {
    const assets = readdirSync(new URL('assets/', dist));
    const js = assets.find((f) => f.endsWith('.js'))!;
    const res = await request(server.url, 'GET', `/assets/${js}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it("leaves the API's paths to the API: unknown ones still answer the JSON 404 envelope", async () => {
    // A path the API serves under another method is the API's too: 405, not a page.
    const post = await request(server.url, 'GET', '/v1/evaluate');
    expect(post.status).toBe(405);
    expect(Object.keys(post.body).sort()).toEqual(['error', 'request_id']);
    for (const path of ['/v1/nothing-here', '/ofrep/v1/x', '/docs/nothing-here', '/graphql/x', '/assets/missing.js']) {
      const res = await request(server.url, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(Object.keys(res.body).sort(), path).toEqual(['error', 'request_id']);
    }
    expect((await request(server.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    const graphiql = await request(server.url, 'GET', '/graphql', { headers: { accept: 'text/html' } });
    expect(graphiql.status).toBe(200);
    expect(graphiql.body).toContain('GraphiQL');
    expect(graphiql.headers.get('content-security-policy')).toBeNull();
    // /docs is the API reference, not a page of the console (test/openapi.test.ts).
    const docs = await request(server.url, 'GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-security-policy')).not.toBe(CONSOLE_CSP);
  });
});
