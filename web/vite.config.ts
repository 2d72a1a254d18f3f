import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is static files: `npm run web:build` writes them to web/dist, which the server
// serves at / (src/http/console.ts). `npm run web:dev` serves them with hot reload and sends the
// API paths to a server started with `npm run dev`.
const api = process.env.VEXIL_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Every browser the console supports has <link rel=modulepreload>; no polyfill to inline.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      '/graphql': { target: api, ws: true },
      '/v1': api,
    },
  },
});
