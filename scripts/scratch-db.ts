import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabase, ensureDatabase, startEmbeddedPostgres, withDatabase } from '../src/db/embedded.js';

/** Runs `fn` against a throw-away database: on DATABASE_URL's server if set, else an embedded one. */
export async function withScratchDatabase(fn: (url: string) => Promise<void>): Promise<void> {
  const name = `vexil_scratch_${process.pid}`;
  if (process.env.DATABASE_URL) {
    const admin = process.env.DATABASE_URL;
    await ensureDatabase(admin, name);
    try {
      await fn(withDatabase(admin, name));
    } finally {
      await dropDatabase(admin, name);
    }
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'vexil-scratch-'));
  const db = await startEmbeddedPostgres({
    dataDir: dir,
    port: 20000 + (process.pid % 20000),
    database: name,
    runningAsRoot: process.getuid?.() === 0,
  });
  try {
    await fn(db.url);
  } finally {
    await db.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
