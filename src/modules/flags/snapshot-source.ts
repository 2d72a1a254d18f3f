import { type EntityManager, IsolationLevel } from '@mikro-orm/postgresql';
import { textArray } from '../../db/sql.js';
import type {
  EnvironmentChange,
  EnvironmentData,
  FlagConfig,
  FlagKind,
  Prerequisite,
  Rule,
  Segment,
  SegmentRule,
  Serve,
  Target,
  Variation,
} from '../../evaluation/index.js';
import type { ChangeScope } from '../../realtime/changes.js';
import type { EnvironmentSnapshotData, SnapshotSource } from '../../realtime/snapshots.js';

/**
 * What the snapshots are built from: every live (non-archived) flag of an environment with its
 * state there, the project's segments, and the environment's version, read in one consistent
 * view (REPEATABLE READ) in four queries however many environments there are; or, for a change
 * that names its flags and segments, only those (`changed`). Flags and segments are ordered by
 * key in byte order (collate "C"), the order the incremental path keeps them in.
 */

interface EnvironmentRow {
  id: string;
  project_id: string;
  key: string;
  version: number;
}
interface FlagRow {
  environment_id: string;
  key: string;
  kind: FlagKind;
  variations: Variation[];
  client_side_available: boolean;
  tags: string[];
  temporary: boolean;
  salt: string | null;
  on: boolean;
  off_variation: number;
  targets: Target[];
  rules: Rule[];
  fallthrough: Serve;
  prerequisites: Prerequisite[];
  version: number;
}
interface SegmentRow {
  project_id: string;
  key: string;
  included: string[];
  excluded: string[];
  rules: SegmentRule[];
}

const FLAG_SELECT = `select s.environment_id, f.key, f.kind, f.variations, f.client_side_available, f.tags,
       f.temporary, f.salt, s.on, s.off_variation, s.targets, s.rules, s.fallthrough, s.prerequisites, s.version
  from flag_states s join flags f on f.id = s.flag_id`;
const SEGMENT_SELECT = 'select project_id, key, included, excluded, rules from segments';

const segmentOf = (row: SegmentRow): Segment => ({
  key: row.key,
  included: row.included,
  excluded: row.excluded,
  rules: row.rules,
});

function flagConfig(row: FlagRow): FlagConfig {
  return {
    definition: {
      key: row.key,
      kind: row.kind,
      variations: row.variations,
      clientSideAvailable: row.client_side_available,
      tags: row.tags,
      temporary: row.temporary,
      ...(row.salt !== null ? { salt: row.salt } : {}),
    },
    state: {
      on: row.on,
      offVariation: row.off_variation,
      targets: row.targets,
      rules: row.rules,
      fallthrough: row.fallthrough,
      prerequisites: row.prerequisites,
      version: Number(row.version),
    },
  };
}

async function load(em: EntityManager, environmentId: string | null): Promise<Map<string, EnvironmentSnapshotData>> {
  return em.transactional(
    async (tx) => {
      const one = environmentId !== null;
      const environments: EnvironmentRow[] = await tx.execute(
        `select id, project_id, key, version from environments ${one ? 'where id = ?' : ''}`,
        one ? [environmentId] : [],
      );
      const result = new Map<string, EnvironmentSnapshotData>();
      if (environments.length === 0) return result;
      const flags: FlagRow[] = await tx.execute(
        `${FLAG_SELECT} where f.archived_at is null ${one ? 'and s.environment_id = ?' : ''} order by f.key collate "C"`,
        one ? [environmentId] : [],
      );
      const segments: SegmentRow[] = await tx.execute(
        `${SEGMENT_SELECT} ${one ? 'where project_id = ?' : ''} order by key collate "C"`,
        one ? [environments[0]!.project_id] : [],
      );
      const segmentsByProject = new Map<string, Segment[]>();
      for (const row of segments) {
        const list = segmentsByProject.get(row.project_id) ?? [];
        list.push(segmentOf(row));
        segmentsByProject.set(row.project_id, list);
      }
      for (const env of environments) {
        result.set(env.id, {
          projectId: env.project_id,
          environmentKey: env.key,
          data: { version: Number(env.version), flags: [], segments: segmentsByProject.get(env.project_id) ?? [] },
        });
      }
      for (const row of flags) result.get(row.environment_id)?.data.flags.push(flagConfig(row));
      return result;
    },
    { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
  );
}

/** The current state of what a change names, read in one consistent view (see SnapshotSource). */
async function changed(
  em: EntityManager,
  environmentId: string,
  scope: ChangeScope,
): Promise<EnvironmentChange | null> {
  return em.transactional(
    async (tx) => {
      const [environment]: EnvironmentRow[] = await tx.execute(
        'select id, project_id, key, version from environments where id = ?',
        [environmentId],
      );
      if (!environment) return null;
      const flags = new Map<string, FlagConfig | null>(scope.flagKeys.map((key) => [key, null]));
      if (scope.flagKeys.length > 0) {
        const rows: FlagRow[] = await tx.execute(
          `${FLAG_SELECT} where f.archived_at is null and s.environment_id = ? and f.project_id = ?
             and f.key = any(?::text[])`,
          [environmentId, environment.project_id, textArray(scope.flagKeys)],
        );
        for (const row of rows) flags.set(row.key, flagConfig(row));
      }
      const segments = new Map<string, Segment | null>(scope.segmentKeys.map((key) => [key, null]));
      if (scope.segmentKeys.length > 0) {
        const rows: SegmentRow[] = await tx.execute(`${SEGMENT_SELECT} where project_id = ? and key = any(?::text[])`, [
          environment.project_id,
          textArray(scope.segmentKeys),
        ]);
        for (const row of rows) segments.set(row.key, segmentOf(row));
      }
      return { version: Number(environment.version), flags, segments };
    },
    { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
  );
}

/** One environment's evaluation data, or null when the environment does not exist. */
export async function loadEnvironmentData(em: EntityManager, environmentId: string): Promise<EnvironmentData | null> {
  return (await load(em, environmentId)).get(environmentId)?.data ?? null;
}

/** Every environment's evaluation data, keyed by environment id. */
export async function loadAllEnvironmentData(em: EntityManager): Promise<Map<string, EnvironmentData>> {
  return new Map([...(await load(em, null))].map(([id, loaded]) => [id, loaded.data]));
}

/** Where every node's snapshots come from: an environment's data with its project and key. */
export const flagSnapshotSource = (em: () => EntityManager): SnapshotSource => ({
  all: () => load(em(), null),
  one: async (environmentId) => (await load(em(), environmentId)).get(environmentId) ?? null,
  changed: (environmentId, scope) => changed(em(), environmentId, scope),
});
