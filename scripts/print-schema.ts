/** Writes schema/schema.graphql from the Pothos schema; with --check, fails if the file is stale. */
import { readFileSync, writeFileSync } from 'node:fs';
import { printedSchema } from '../src/schema.js';

const path = 'schema/schema.graphql';
const sdl = printedSchema();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    /* missing counts as stale */
  }
  if (current !== sdl) {
    console.error(`${path} is out of date with the code: run \`npm run schema\` and commit the result.`);
    process.exit(1);
  }
  console.log(`${path} is up to date.`);
} else {
  writeFileSync(path, sdl);
  console.log(`Wrote ${path}.`);
}
