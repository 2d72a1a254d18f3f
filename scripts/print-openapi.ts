/**
 * Writes schema/openapi.json, the OpenAPI document @fastify/swagger generates from the routes
 * (the app is built over a scratch database, as the routes need one to start). With --check,
 * fails if the file is stale or the document is not valid OpenAPI 3.1 (@apidevtools/swagger-parser).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createOrm, migrate } from '../src/db/orm.js';
import { entities } from '../src/entities.js';
import { withScratchDatabase } from './scratch-db.js';

const path = 'schema/openapi.json';

/** The document as the server serves it at GET /v1/openapi.json, printed. */
async function printedOpenApi(url: string): Promise<string> {
  const orm = await createOrm(url, entities, { migrations: { silent: true } });
  try {
    await migrate(orm);
    const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), orm });
    try {
      await app.ready();
      return `${JSON.stringify(app.swagger(), null, 2)}\n`;
    } finally {
      await app.close();
    }
  } finally {
    await orm.close();
  }
}

let printed = '';
await withScratchDatabase(async (url) => {
  printed = await printedOpenApi(url);
});

// Validates a copy: the parser dereferences what it is given.
await SwaggerParser.validate(JSON.parse(printed));
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    /* missing counts as stale */
  }
  if (current !== printed) {
    console.error(`${path} is out of date with the routes: run \`npm run openapi\` and commit the result.`);
    process.exit(1);
  }
  console.log(`${path} is up to date and valid OpenAPI.`);
} else {
  writeFileSync(path, printed);
  console.log(`Wrote ${path} (valid OpenAPI).`);
}
