import type { EntityManager } from '@mikro-orm/postgresql';
import { type Page, pageWindow, toPage } from '../../common/pagination.js';
import { uuidArray } from '../../db/sql.js';
import type { Environment, Project } from '../projects/entity.js';
import type { Flag, FlagState } from './entity.js';

/**
 * The read paths of the dashboards: flag pages and every flag's states, as plain rows shaped like
 * the entities, not hydrated into the unit of work. A page of 50 flags with their states in three
 * environments is 200 objects that nothing will change: MikroORM's hydration, identity map and
 * change-set bookkeeping for them cost more than the rest of the request together. What a
 * request changes is still loaded as managed entities (by the mutations, in their transactions).
 */

interface FlagRow {
  id: string;
  key: string;
  name: string;
  description: string;
  kind: Flag['kind'];
  variations: Flag['variations'];
  tags: string[];
  client_side_available: boolean;
  temporary: boolean;
  salt: string | null;
  archived_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const FLAG_COLUMNS = `f.id, f.key, f.name, f.description, f.kind, f.variations, f.tags, f.client_side_available,
  f.temporary, f.salt, f.archived_at, f.created_at, f.updated_at`;

/** Timestamps come back as PostgreSQL text (the driver's setting); parsed as the ORM parses them. */
type ParseDate = (value: Date | string) => Date;
const dateParser = (em: EntityManager): ParseDate => {
  const platform = em.getPlatform();
  return (value) => (value instanceof Date ? value : platform.parseDate(value));
};

function flagOf(row: FlagRow, project: Project, date: ParseDate): Flag {
  return {
    id: row.id,
    project,
    key: row.key,
    name: row.name,
    description: row.description,
    kind: row.kind,
    variations: row.variations,
    tags: row.tags,
    clientSideAvailable: row.client_side_available,
    temporary: row.temporary,
    salt: row.salt,
    archivedAt: row.archived_at === null ? null : date(row.archived_at),
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
  };
}

export interface FlagFilter {
  archived?: boolean | null;
  tag?: string | null;
  search?: string | null;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** A page of the project's flags by key, filtered; the total counts every match. */
export async function flagPage(
  em: EntityManager,
  project: Project,
  args: FlagFilter & { limit?: number | null; offset?: number | null },
): Promise<Page<Flag>> {
  const window = pageWindow(args);
  const where = ['f.project_id = ?'];
  const params: unknown[] = [project.id];
  if (args.archived != null) where.push(args.archived ? 'f.archived_at is not null' : 'f.archived_at is null');
  if (args.tag) {
    where.push('f.tags @> array[?]::text[]');
    params.push(args.tag);
  }
  if (args.search) {
    const like = `%${escapeLike(args.search)}%`;
    where.push('(f.key ilike ? or f.name ilike ? or f.description ilike ?)');
    params.push(like, like, like);
  }
  // One statement: the page and the number of matches (a window function over the same scan).
  const rows: (FlagRow & { total: string })[] = await em.execute(
    `select ${FLAG_COLUMNS}, count(*) over () as total from flags f where ${where.join(' and ')}
     order by f.key asc limit ? offset ?`,
    [...params, window.limit, window.offset],
  );
  let total = rows.length > 0 ? Number(rows[0]!.total) : 0;
  if (rows.length === 0 && window.offset > 0) {
    // Past the end: the window function saw no row, so count on its own.
    const [counted] = await em.execute<{ n: string }[]>(
      `select count(*) as n from flags f where ${where.join(' and ')}`,
      params,
    );
    total = Number(counted?.n ?? 0);
  }
  const date = dateParser(em);
  return toPage(
    rows.map((row) => flagOf(row, project, date)),
    total,
    window,
  );
}

interface StateRow {
  id: string;
  flag_id: string;
  on: boolean;
  off_variation: number;
  targets: string;
  rules: string;
  fallthrough: string;
  prerequisites: string;
  version: number;
  updated_at: Date;
  e_id: string;
  e_project_id: string;
  e_key: string;
  e_name: string;
  e_color: string | null;
  e_sort_order: number;
  e_version: number;
  e_requires_approval: boolean;
  e_min_approvals: number;
  e_created_at: Date;
  e_updated_at: Date;
}

/**
 * A stored flag state as a plain object. Its targeting (JSON) is parsed when first read: a list
 * showing each state's switch reads none of it, and parsing rules it does not show was most of
 * what reading the rows cost.
 */
class PlainFlagState implements FlagState {
  readonly id: string;
  readonly on: boolean;
  readonly offVariation: number;
  readonly version: number;
  private parsed: Partial<Pick<FlagState, 'targets' | 'rules' | 'fallthrough' | 'prerequisites'>> = {};

  constructor(
    private readonly row: StateRow,
    readonly flag: Flag,
    readonly environment: Environment,
    readonly updatedAt: Date,
  ) {
    this.id = row.id;
    this.on = row.on;
    this.offVariation = Number(row.off_variation);
    this.version = Number(row.version);
  }

  get targets(): FlagState['targets'] {
    return (this.parsed.targets ??= JSON.parse(this.row.targets));
  }
  get rules(): FlagState['rules'] {
    return (this.parsed.rules ??= JSON.parse(this.row.rules));
  }
  get fallthrough(): FlagState['fallthrough'] {
    return (this.parsed.fallthrough ??= JSON.parse(this.row.fallthrough));
  }
  get prerequisites(): FlagState['prerequisites'] {
    return (this.parsed.prerequisites ??= JSON.parse(this.row.prerequisites));
  }
}

/** The states of these flags, each list in environment display order, with their environments. */
export async function statesOfFlags(em: EntityManager, flags: readonly Flag[]): Promise<Map<string, FlagState[]>> {
  const byFlag = new Map<string, FlagState[]>(flags.map((f) => [f.id, []]));
  if (flags.length === 0) return byFlag;
  const rows: StateRow[] = await em.execute(
    `select s.id, s.flag_id, s.on, s.off_variation, s.targets::text, s.rules::text, s.fallthrough::text,
            s.prerequisites::text, s.version,
            s.updated_at, e.id as e_id, e.project_id as e_project_id, e.key as e_key, e.name as e_name,
            e.color as e_color, e.sort_order as e_sort_order, e.version as e_version,
            e.requires_approval as e_requires_approval, e.min_approvals as e_min_approvals,
            e.created_at as e_created_at, e.updated_at as e_updated_at
     from "flag_states" s join "environments" e on e.id = s.environment_id
     where s.flag_id = any(?::uuid[])
     order by e.sort_order asc, e.created_at asc`,
    [uuidArray([...byFlag.keys()])],
  );
  const flagById = new Map(flags.map((f) => [f.id, f]));
  const date = dateParser(em);
  const environments = new Map<string, Environment>();
  for (const row of rows) {
    let environment = environments.get(row.e_id);
    if (environment === undefined) {
      const flag = flagById.get(row.flag_id)!;
      environment = {
        id: row.e_id,
        // The flags' project: every state of a flag is in an environment of its project.
        project: flag.project.id === row.e_project_id ? flag.project : ({ id: row.e_project_id } as Project),
        key: row.e_key,
        name: row.e_name,
        color: row.e_color,
        sortOrder: Number(row.e_sort_order),
        version: Number(row.e_version),
        requiresApproval: row.e_requires_approval,
        minApprovals: Number(row.e_min_approvals),
        createdAt: date(row.e_created_at),
        updatedAt: date(row.e_updated_at),
      };
      environments.set(row.e_id, environment);
    }
    byFlag
      .get(row.flag_id)!
      .push(new PlainFlagState(row, flagById.get(row.flag_id)!, environment, date(row.updated_at)));
  }
  return byFlag;
}
