import { describe, expect, it } from 'vitest';
import { bulkEvaluation, restAnswer } from '../src/modules/sdk/bulk.js';
import type { Snapshot } from '../src/realtime/snapshots.js';
import { givenEnv, givenFlag } from './evaluation/builders.js';

// The bulk memo (src/modules/sdk/bulk.ts) shared by /v1/evaluate/bulk and OFREP bulk: repeats
// are lookups, and what it keeps stays bounded however large the environments are.

function snapshotOf(flags: number): Snapshot {
  const compiled = givenEnv(Array.from({ length: flags }, (_, i) => givenFlag(`f-${i}`)));
  return {
    environmentId: '00000000-0000-4000-8000-000000000001',
    projectId: '00000000-0000-4000-8000-000000000002',
    environmentKey: 'dev',
    version: 1,
    data: { version: 1, flags: [], segments: [] },
    compiled,
    etag: '"x.1"',
  };
}

describe('the bulk memo', () => {
  it('answers a repeated context from the same entry, per snapshot and visibility', () => {
    const snapshot = snapshotOf(3);
    const first = bulkEvaluation(snapshot, { key: 'u' }, false);
    expect(bulkEvaluation(snapshot, { key: 'u' }, false)).toBe(first);
    expect(bulkEvaluation(snapshot, { key: 'u' }, true)).not.toBe(first);
    expect(bulkEvaluation(snapshotOf(3), { key: 'u' }, false)).not.toBe(first);
    expect(bulkEvaluation(snapshot, { key: 'v' }, false)).not.toBe(first);
    let builds = 0;
    const build = () => `answer ${++builds}`;
    expect(restAnswer(first, build)).toBe('answer 1');
    expect(restAnswer(first, build)).toBe('answer 1');
  });

  it('keeps no context longer than its bound, and builds its answer each time', () => {
    const snapshot = snapshotOf(1);
    const context = { key: 'u', note: 'x'.repeat(2000) };
    const long = bulkEvaluation(snapshot, context, false);
    expect(bulkEvaluation(snapshot, context, false)).not.toBe(long);
    let builds = 0;
    restAnswer(long, () => `answer ${++builds}`);
    restAnswer(long, () => `answer ${++builds}`);
    expect(builds).toBe(2);
  });

  it('lets everything go once the answers it keeps pass their bound', () => {
    const snapshot = snapshotOf(1);
    const big = 'x'.repeat(4 * 1024 * 1024);
    const kept = Array.from({ length: 3 }, (_, i) => bulkEvaluation(snapshot, { key: `big-${i}` }, false));
    for (const entry of kept) restAnswer(entry, () => big);
    expect(bulkEvaluation(snapshot, { key: 'big-0' }, false)).toBe(kept[0]);
    // 16 MB of answers: the fifth 4 MB answer is over, and the memo starts again.
    const more = Array.from({ length: 2 }, (_, i) => bulkEvaluation(snapshot, { key: `more-${i}` }, false));
    for (const entry of more) restAnswer(entry, () => big);
    expect(bulkEvaluation(snapshot, { key: 'big-0' }, false)).not.toBe(kept[0]);
  });

  it('lets everything go once the results it holds pass their bound', () => {
    const snapshot = snapshotOf(10_000);
    const first = bulkEvaluation(snapshot, { key: 'r-0' }, false);
    // 2,000,000 result references: 200 entries of 10,000 flags (the earlier tests hold a few
    // more), so the 200th entry starts again.
    for (let i = 1; i < 199; i++) bulkEvaluation(snapshot, { key: `r-${i}` }, false);
    expect(bulkEvaluation(snapshot, { key: 'r-0' }, false)).toBe(first);
    bulkEvaluation(snapshot, { key: 'r-199' }, false);
    expect(bulkEvaluation(snapshot, { key: 'r-0' }, false)).not.toBe(first);
  });
});
