/**
 * Fails when the entities and the migrations disagree: migrates a throw-away database, then asks
 * MikroORM whether the entities need a migration the folder does not hold (CI's drift check;
 * `npm run migration:create` writes the missing one).
 */
import { createOrm, migrate } from '../src/db/orm.js';
import { entities } from '../src/entities.js';
import { withScratchDatabase } from './scratch-db.js';

let needed = false;
await withScratchDatabase(async (url) => {
  const orm = await createOrm(url, entities, { migrations: { silent: true } });
  try {
    await migrate(orm);
    needed = await orm.getMigrator().checkMigrationNeeded();
  } finally {
    await orm.close();
  }
});
if (needed) {
  console.error('The entities differ from the migrations: run `npm run migration:create` and commit the migration.');
  process.exit(1);
}
console.log('migrations/ matches the entities.');
