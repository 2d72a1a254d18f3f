import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError } from './envelope.js';

/**
 * The web console (web/, built into web/dist by `npm run web:build`) at `/`: hashed assets cached
 * for a year, index.html revalidated on every load, every client route answered with index.html.
 * The API's own paths are never swallowed: an unknown one still answers the JSON 404 envelope.
 */

// From src/http (tsx) or dist/src/http (the compiled image), the repository's web/dist.
const CANDIDATES = ['../../web/dist', '../../../web/dist'].map((p) => fileURLToPath(new URL(p, import.meta.url)));

/** Paths that belong to the API, never to the single-page application. */
const API_PATHS = /^\/(graphql|v1|ofrep|healthz|readyz|docs)(\/|$|\?)/;

/**
 * The console talks only to its own origin (GraphQL over HTTP and WebSocket, the REST auth
 * routes) and runs only its own bundled scripts and styles: an injected script has nowhere to
 * come from and nowhere to send what it reads.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function pageHeaders(reply: FastifyReply) {
  reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', 'no-cache');
}

export default async function consolePlugin(app: FastifyInstance) {
  const root = CANDIDATES.find((dir) => existsSync(`${dir}/index.html`));
  if (!root) {
    app.get('/', (_req, reply) =>
      sendError(reply, 503, 'the console is not built: run `npm run web:build` (npm start does it for you)'),
    );
    return;
  }

  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    // One route per built file, found at start: nothing else under / is looked up on disk.
    wildcard: false,
    index: false,
    cacheControl: false,
    etag: true,
    lastModified: false,
    setHeaders: (reply: FastifyReply, path: string) => {
      if (path.endsWith('.html')) return pageHeaders(reply);
      reply.header('x-content-type-options', 'nosniff');
      // Vite names every file under assets/ by its content hash.
      reply.header(
        'cache-control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
      );
    },
  });

  // Read once: client-side routes are answered from the not-found path, outside this plugin,
  // where @fastify/static's sendFile is not decorated.
  const index = await readFile(`${root}/index.html`);
  const page = (reply: FastifyReply) => {
    pageHeaders(reply);
    return reply.type('text/html; charset=utf-8').send(index);
  };
  app.get('/', (_req, reply) => page(reply));
  // Client-side routes (/p/default/flags, /sign-in, …) load the application, which routes itself.
  app.addPageFallback((req, reply) => {
    const path = req.url.split('?')[0]!;
    if (req.method !== 'GET' || API_PATHS.test(path) || /\.[a-z0-9]+$/i.test(path)) return undefined;
    return page(reply);
  });
}
