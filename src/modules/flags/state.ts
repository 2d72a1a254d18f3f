import { randomUUID } from 'node:crypto';
import { type EntityManager, FlushMode, LockMode } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { changeActor, type ManagementPrincipal } from '../../auth/principal.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import {
  type FlagEnvState,
  type Prerequisite,
  type Problem,
  type Rule,
  type Serve,
  type Target,
  validateFlagState,
} from '../../evaluation/index.js';
import { announceChange } from '../../realtime/changes.js';
import { recordAudit } from '../audit/service.js';
import { answerWith, approvalDetails, type ChangeOptions, gateChange } from '../pending/service.js';
import { type Environment, EnvironmentSchema } from '../projects/entity.js';
import { type EnvironmentProvisioner, listEnvironments, lockEnvironments } from '../projects/service.js';
import { assertValid } from '../targeting/validation.js';
import { type Flag, FlagSchema, type FlagState, FlagStateSchema } from './entity.js';
import { statesOfFlags } from './reads.js';
import { type FlagRef, findFlag } from './service.js';
import { defaultState, definitionOf, envStateOf, stateValidationContext } from './validation.js';

/** Environments one promotion may reach (each is read and validated in the transaction). */
const MAX_PROMOTE_TARGETS = 100;

/** A rule as a client sends it: the id is kept when given and generated when omitted. */
export type RuleChange = Omit<Rule, 'id'> & { id?: string | null };

/** The parts of a flag's state to replace; omitted parts stay as they are. */
export interface FlagStateChanges {
  on?: boolean | null;
  offVariation?: number | null;
  targets?: Target[] | null;
  rules?: RuleChange[] | null;
  fallthrough?: Serve | null;
  prerequisites?: Prerequisite[] | null;
}

/**
 * A new environment starts with every existing flag of its project in its default (off) state.
 * The query must not flush: for a brand-new project nothing is stored yet, and nothing needs to be.
 */
export const provisionFlagStates: EnvironmentProvisioner = async (em, environment) => {
  const flags = await em.find(FlagSchema, { project: environment.project }, { flushMode: FlushMode.COMMIT });
  for (const flag of flags) {
    em.create(FlagStateSchema, {
      id: randomUUID(),
      flag,
      environment,
      ...defaultState(flag),
      version: 1,
      updatedAt: new Date(),
    });
  }
};

/**
 * Flag states per unit of work, batched: a page of flags that each select `environments` costs
 * one query, not one per flag. Plain rows (reads.ts), and batching only (no cache), so a
 * mutation later in the same operation is never answered with states read before it.
 */
const stateLoaders = new WeakMap<EntityManager, DataLoader<Flag, FlagState[], string>>();

function stateLoader(em: EntityManager): DataLoader<Flag, FlagState[], string> {
  let loader = stateLoaders.get(em);
  if (loader === undefined) {
    loader = new DataLoader(
      async (flags: readonly Flag[]) => {
        const byFlag = await statesOfFlags(em, flags);
        return flags.map((flag) => byFlag.get(flag.id)!);
      },
      { cache: false },
    );
    stateLoaders.set(em, loader);
  }
  return loader;
}

export async function listFlagStates(em: EntityManager, flag: Flag): Promise<FlagState[]> {
  return stateLoader(em).load(flag);
}

/** The flag's state in one environment of its project, named by key or by id (exactly one). */
export async function getFlagState(
  em: EntityManager,
  flag: Flag,
  environment: { key?: string | null; id?: string | null },
): Promise<FlagState> {
  if (!environment.key === !environment.id)
    throw new ValidationError('give exactly one of environmentKey or environmentId');
  const state = await em.findOne(FlagStateSchema, { flag, environment }, { populate: ['environment'] });
  if (!state) throw new NotFoundError('key' in environment ? `environment "${environment.key}"` : 'environment');
  return state;
}

async function environmentOf(em: EntityManager, flag: Flag, environmentId: string): Promise<Environment> {
  const environment = await em.findOne(EnvironmentSchema, { id: environmentId, project: flag.project });
  if (!environment) throw new NotFoundError('environment');
  return environment;
}

/** Locks the flag's state rows in these environments for the rest of the transaction. */
async function lockStates(em: EntityManager, flag: Flag, environmentIds: string[]): Promise<FlagState[]> {
  return em.find(
    FlagStateSchema,
    { flag, environment: { $in: environmentIds } },
    { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
  );
}

function assertLive(flag: Flag): void {
  if (flag.archivedAt !== null)
    throw new ConflictError(`flag "${flag.key}" is archived; restore it before changing its targeting`);
}

function applyState(state: FlagState, next: Omit<FlagEnvState, 'version'>): void {
  state.on = next.on;
  state.offVariation = next.offVariation;
  state.targets = next.targets;
  state.rules = next.rules;
  state.fallthrough = next.fallthrough;
  state.prerequisites = next.prerequisites;
  state.version += 1;
}

const withRuleIds = (rules: RuleChange[]): Rule[] => rules.map((r) => ({ ...r, id: r.id ?? randomUUID() }));

/** A state's content, without its version: what a pending change proposes and compares. */
const contentOf = ({ version: _, ...content }: FlagEnvState): Record<string, unknown> => content;

/**
 * Replaces parts of a flag's targeting in one environment. `expectedVersion` is the version the
 * caller read: when someone else changed the state since, nothing is written and CONFLICT says so.
 * In an environment that requires approval (or when `options.request` asks for it), the valid
 * change is not written: it becomes a pending change, which the (unchanged) state answers with.
 */
export async function updateFlagState(
  em: EntityManager,
  actor: ManagementPrincipal,
  by: FlagRef,
  environmentId: string,
  expectedVersion: number,
  changes: FlagStateChanges,
  options: ChangeOptions = {},
): Promise<FlagState> {
  return em.transactional(async (tx) => {
    const flag = await findFlag(tx, actor, by);
    assertLive(flag);
    const environment = await environmentOf(tx, flag, environmentId);
    await lockEnvironments(tx, [environment.id]);
    const [state] = await lockStates(tx, flag, [environment.id]);
    if (!state) throw new NotFoundError('flag state');
    if (state.version !== expectedVersion) {
      throw new ConflictError(
        `the flag's state in "${environment.key}" is at version ${state.version}, not ${expectedVersion}: reload and retry`,
        {
          currentVersion: state.version,
        },
      );
    }
    const before = envStateOf(state);
    const next: FlagEnvState = {
      on: changes.on ?? state.on,
      offVariation: changes.offVariation ?? state.offVariation,
      targets: changes.targets ?? state.targets,
      rules: changes.rules ? withRuleIds(changes.rules) : state.rules,
      fallthrough: changes.fallthrough ?? state.fallthrough,
      prerequisites: changes.prerequisites ?? state.prerequisites,
      version: state.version + 1,
    };
    const context = await stateValidationContext(tx, flag.project.id, environment.id, next);
    assertValid(validateFlagState(definitionOf(flag), next, context));
    const pending = await gateChange(
      tx,
      actor,
      {
        kind: 'flag.state',
        projectId: flag.project.id,
        environments: [environment],
        environment,
        flag,
        base: { [environment.id]: state.version },
        before: contentOf(before),
        proposed: contentOf(next),
      },
      options,
    );
    if (pending) return answerWith(state, pending);
    applyState(state, next);
    recordAudit(tx, actor, {
      action: 'flag.state.updated',
      resourceType: 'flag',
      resourceId: flag.id,
      projectId: flag.project.id,
      environmentId: environment.id,
      details: {
        key: flag.key,
        environmentKey: environment.key,
        before,
        after: envStateOf(state),
        ...approvalDetails(options),
      },
    });
    await announceChange(tx, {
      environmentIds: [environment.id],
      kind: 'flag.state',
      flagKeys: [flag.key],
      actor: changeActor(actor),
    });
    return state;
  });
}

/**
 * The kill switch: turns the flag off in one environment, or in every environment of its
 * project, at once. Allowed on archived flags too: in an emergency nobody should have to restore first.
 */
export async function killFlag(
  em: EntityManager,
  actor: ManagementPrincipal,
  by: FlagRef,
  environmentId?: string | null,
): Promise<FlagState[]> {
  return em.transactional(async (tx) => {
    const flag = await findFlag(tx, actor, by);
    const environments = environmentId
      ? [await environmentOf(tx, flag, environmentId)]
      : await listEnvironments(tx, flag.project);
    await lockEnvironments(
      tx,
      environments.map((e) => e.id),
    );
    const states = await lockStates(
      tx,
      flag,
      environments.map((e) => e.id),
    );
    const killed = states.filter((s) => s.on);
    for (const state of killed) applyState(state, { ...envStateOf(state), on: false });
    const killedIn = environments.filter((e) => killed.some((s) => s.environment.id === e.id));
    // An emergency stop never waits for reviewers; the entry says whose approval it went past.
    const bypassed = killedIn.filter((e) => e.requiresApproval).map((e) => e.key);
    recordAudit(tx, actor, {
      action: 'flag.killed',
      resourceType: 'flag',
      resourceId: flag.id,
      projectId: flag.project.id,
      environmentId: environmentId ?? null,
      details: {
        key: flag.key,
        environmentKeys: killedIn.map((e) => e.key),
        ...(bypassed.length > 0 ? { emergency: true, approvalBypassed: bypassed } : {}),
      },
    });
    if (killedIn.length > 0) {
      await announceChange(tx, {
        environmentIds: killedIn.map((e) => e.id),
        kind: 'flag.killed',
        flagKeys: [flag.key],
        actor: changeActor(actor),
      });
    }
    return environments
      .map((e) => states.find((s) => s.environment.id === e.id))
      .filter((s): s is FlagState => s !== undefined);
  });
}

/**
 * Copies a flag's targeting from one environment to others, all or nothing: each copy must be
 * valid in its target environment (prerequisites live there, no cycle with that environment's
 * prerequisites), else nothing is written. A target that requires approval gets a pending change
 * of the copy instead (its unchanged state answers with it).
 */
export async function promoteFlag(
  em: EntityManager,
  actor: ManagementPrincipal,
  by: FlagRef,
  fromEnvironmentId: string,
  toEnvironmentIds: string[],
): Promise<FlagState[]> {
  const targets = [...new Set(toEnvironmentIds)];
  if (targets.length === 0) throw new ValidationError('toEnvironmentIds must name at least one environment');
  if (targets.length > MAX_PROMOTE_TARGETS) {
    throw new ValidationError(`toEnvironmentIds may name at most ${MAX_PROMOTE_TARGETS} environments`);
  }
  if (targets.includes(fromEnvironmentId)) throw new ValidationError('cannot promote an environment onto itself');
  return em.transactional(async (tx) => {
    const flag = await findFlag(tx, actor, by);
    assertLive(flag);
    const from = await environmentOf(tx, flag, fromEnvironmentId);
    const environments = [];
    for (const id of targets) environments.push(await environmentOf(tx, flag, id));
    await lockEnvironments(tx, targets);
    const source = await tx.findOne(FlagStateSchema, { flag, environment: from });
    if (!source) throw new NotFoundError('flag state');
    const copy = structuredClone(envStateOf(source));
    const states = await lockStates(tx, flag, targets);
    const problems: Problem[] = [];
    for (const environment of environments) {
      const state = states.find((s) => s.environment.id === environment.id);
      if (!state) throw new NotFoundError('flag state');
      const context = await stateValidationContext(tx, flag.project.id, environment.id, copy);
      for (const p of validateFlagState(definitionOf(flag), { ...copy, version: state.version + 1 }, context)) {
        problems.push({ path: `environments.${environment.key}.${p.path}`, message: p.message });
      }
    }
    assertValid(problems);
    const answers = new Map<string, FlagState>();
    const promoted: Record<string, { before: FlagEnvState; after: FlagEnvState }> = {};
    for (const environment of environments) {
      const state = states.find((s) => s.environment.id === environment.id)!;
      const pending = await gateChange(tx, actor, {
        kind: 'flag.state',
        projectId: flag.project.id,
        environments: [environment],
        environment,
        flag,
        base: { [environment.id]: state.version },
        before: contentOf(envStateOf(state)),
        proposed: contentOf(copy),
      });
      if (pending) {
        answers.set(environment.id, answerWith(state, pending));
        continue;
      }
      const before = envStateOf(state);
      applyState(state, structuredClone(copy));
      promoted[environment.key] = { before, after: envStateOf(state) };
      answers.set(environment.id, state);
    }
    const applied = environments.filter((e) => e.key in promoted);
    if (applied.length > 0) {
      recordAudit(tx, actor, {
        action: 'flag.promoted',
        resourceType: 'flag',
        resourceId: flag.id,
        projectId: flag.project.id,
        environmentId: from.id,
        details: { key: flag.key, from: from.key, to: applied.map((e) => e.key), state: copy, environments: promoted },
      });
      await announceChange(tx, {
        environmentIds: applied.map((e) => e.id),
        kind: 'flag.promoted',
        flagKeys: [flag.key],
        actor: changeActor(actor),
      });
    }
    return environments.map((e) => answers.get(e.id)!);
  });
}
