import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { generateKey, hashKey, maskKey } from '../../auth/keys.js';
import { changeActor, hasPermission, type ManagementPrincipal } from '../../auth/principal.js';
import type { Clock } from '../../clock.js';
import { type Page, type PageArgs, pageWindow, toPage } from '../../common/pagination.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { announceChange } from '../../realtime/changes.js';
import { recordAudit } from '../audit/service.js';
import type { Environment } from '../projects/entity.js';
import { type EnvironmentProvisioner, getEnvironment } from '../projects/service.js';
import { type SdkKey, type SdkKeyKind, SdkKeySchema } from './entity.js';

/** The grace periods of the reference: the old key keeps working this long after revocation. */
export const GRACE_MINUTES = [0, 15, 30, 60, 240, 720, 1440] as const;

const CLIENT_ID_FIXED =
  'the client-side ID is fixed for the life of its environment: it cannot be created, revoked or rotated (create a new environment instead)';

export interface CreatedSdkKey {
  key: SdkKey;
  /** The full key, returned once by the mutation that creates it and never again. */
  value: string;
}

function newKey(
  em: EntityManager,
  environment: Environment,
  kind: SdkKeyKind,
  name: string,
  createdBy: string | null,
): CreatedSdkKey {
  const value = generateKey(kind);
  const key = em.create(SdkKeySchema, {
    id: randomUUID(),
    environment,
    kind,
    name,
    keyHash: hashKey(value),
    masked: maskKey(value),
    publicValue: kind === 'client' ? value : null,
    authorizedOrigins: [],
    createdAt: new Date(),
    createdBy,
    lastUsedAt: null,
    revokedAt: null,
    expiresAt: null,
  });
  return { key, value };
}

/** Every environment is born with its one client-side ID. */
export const provisionClientSideId: EnvironmentProvisioner = (em, environment) => {
  newKey(em, environment, 'client', 'Client-side ID', null);
};

function assertEnvironmentAccess(actor: ManagementPrincipal, environmentId: string): void {
  if (!hasPermission(actor, 'sdkkey:manage', environmentId)) throw new ForbiddenError();
}

function assertGrace(graceMinutes: number): void {
  if (!(GRACE_MINUTES as readonly number[]).includes(graceMinutes)) {
    throw new ValidationError(`graceMinutes must be one of ${GRACE_MINUTES.join(', ')}`);
  }
}

export function isKeyActive(key: Pick<SdkKey, 'expiresAt'>, now: number): boolean {
  return key.expiresAt === null || key.expiresAt.getTime() > now;
}

const KEY_ORDER = { createdAt: 'asc', id: 'asc' } as const;

export async function listSdkKeys(em: EntityManager, environmentId: string): Promise<SdkKey[]> {
  return em.find(SdkKeySchema, { environment: environmentId }, { orderBy: KEY_ORDER });
}

/** The keys of an environment of the caller's organization, a page at a time (masked: no value is stored). */
export async function pageSdkKeys(
  em: EntityManager,
  actor: ManagementPrincipal,
  environmentId: string,
  args: PageArgs,
): Promise<Page<SdkKey>> {
  const window = pageWindow(args);
  const environment = await getEnvironment(em, actor, environmentId);
  const [rows, total] = await em.findAndCount(SdkKeySchema, { environment }, { orderBy: KEY_ORDER, ...window });
  return toPage(rows, total, window);
}

export async function clientSideKey(em: EntityManager, environmentId: string): Promise<SdkKey | null> {
  return em.findOne(SdkKeySchema, { environment: environmentId, kind: 'client' });
}

export async function createSdkKey(
  em: EntityManager,
  actor: ManagementPrincipal,
  environmentId: string,
  input: { kind: SdkKeyKind; name?: string | null },
): Promise<CreatedSdkKey> {
  if (input.kind === 'client') throw new ValidationError(CLIENT_ID_FIXED);
  assertEnvironmentAccess(actor, environmentId);
  return em.transactional(async (tx) => {
    const environment = await getEnvironment(tx, actor, environmentId);
    const name = input.name?.trim() || `${input.kind === 'server' ? 'Server' : 'Mobile'} key`;
    const created = newKey(tx, environment, input.kind, name.slice(0, 200), actor.userId);
    recordAudit(tx, actor, {
      action: 'sdkkey.created',
      resourceType: 'sdk_key',
      resourceId: created.key.id,
      projectId: environment.project.id,
      environmentId,
      details: { kind: input.kind, name, masked: created.key.masked },
    });
    await tx.flush();
    await announceChange(tx, {
      environmentIds: [environmentId],
      kind: 'sdkkey.created',
      bumpVersion: false,
      actor: changeActor(actor),
    });
    return created;
  });
}

function revokeInPlace(key: SdkKey, graceMinutes: number, clock: Clock): void {
  const now = clock.now();
  const expiresAt = new Date(now + graceMinutes * 60_000);
  // Revoking again may only shorten the grace (a leak found during a routine rotation).
  if (key.expiresAt && key.expiresAt <= expiresAt)
    throw new ConflictError('this key is already revoked with an earlier or equal end of grace');
  key.revokedAt ??= new Date(now);
  key.expiresAt = expiresAt;
}

export async function revokeSdkKey(
  em: EntityManager,
  actor: ManagementPrincipal,
  keyId: string,
  graceMinutes: number,
  clock: Clock,
): Promise<SdkKey> {
  assertGrace(graceMinutes);
  return em.transactional(async (tx) => {
    const key = await tx.findOne(
      SdkKeySchema,
      { id: keyId, environment: { project: { organization: actor.organizationId } } },
      { populate: ['environment.project'] },
    );
    if (!key) throw new NotFoundError('SDK key');
    if (key.kind === 'client') throw new ValidationError(CLIENT_ID_FIXED);
    assertEnvironmentAccess(actor, key.environment.id);
    revokeInPlace(key, graceMinutes, clock);
    recordAudit(tx, actor, {
      action: 'sdkkey.revoked',
      resourceType: 'sdk_key',
      resourceId: key.id,
      projectId: key.environment.project.id,
      environmentId: key.environment.id,
      details: { graceMinutes, masked: key.masked },
    });
    await tx.flush();
    await announceChange(tx, {
      environmentIds: [key.environment.id],
      kind: 'sdkkey.revoked',
      bumpVersion: false,
      actor: changeActor(actor),
    });
    return key;
  });
}

/** Incident response: one new server key per active one, the old ones revoked with the grace given. */
export async function rotateServerKeys(
  em: EntityManager,
  actor: ManagementPrincipal,
  environmentId: string,
  graceMinutes: number,
  clock: Clock,
): Promise<CreatedSdkKey[]> {
  assertGrace(graceMinutes);
  assertEnvironmentAccess(actor, environmentId);
  return em.transactional(async (tx) => {
    const environment = await getEnvironment(tx, actor, environmentId);
    const active = await tx.find(SdkKeySchema, { environment, kind: 'server', revokedAt: null });
    const created = active.map((old) => {
      revokeInPlace(old, graceMinutes, clock);
      return newKey(tx, environment, 'server', old.name, actor.userId);
    });
    recordAudit(tx, actor, {
      action: 'sdkkey.rotated_all',
      resourceType: 'environment',
      resourceId: environmentId,
      projectId: environment.project.id,
      environmentId,
      details: { graceMinutes, rotated: active.map((k) => k.masked) },
    });
    await tx.flush();
    await announceChange(tx, {
      environmentIds: [environmentId],
      kind: 'sdkkey.revoked',
      bumpVersion: false,
      actor: changeActor(actor),
    });
    return created;
  });
}

/** Browser origins as `scheme://host[:port]`; `*` allows any (and is reported as unsafe). */
export function normaliseOrigin(origin: string): string {
  const trimmed = origin.trim();
  if (trimmed === '*') return '*';
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new ValidationError(`"${origin}" is not an origin like https://app.example.com`);
  }
  if (
    !['http:', 'https:'].includes(url.protocol) ||
    url.pathname.length > 1 ||
    url.search ||
    url.hash ||
    url.username
  ) {
    throw new ValidationError(
      `"${origin}" is not an origin like https://app.example.com (no path, query or credentials)`,
    );
  }
  return url.origin;
}

export async function setAuthorizedOrigins(
  em: EntityManager,
  actor: ManagementPrincipal,
  environmentId: string,
  origins: string[],
): Promise<SdkKey> {
  if (origins.length > 100) throw new ValidationError('at most 100 authorized origins');
  const normalised = [...new Set(origins.map(normaliseOrigin))];
  assertEnvironmentAccess(actor, environmentId);
  return em.transactional(async (tx) => {
    const environment = await getEnvironment(tx, actor, environmentId);
    const key = await tx.findOne(SdkKeySchema, { environment, kind: 'client' });
    if (!key) throw new NotFoundError('client-side ID');
    key.authorizedOrigins = normalised;
    recordAudit(tx, actor, {
      action: 'sdkkey.origins_changed',
      resourceType: 'sdk_key',
      resourceId: key.id,
      projectId: environment.project.id,
      environmentId,
      details: { origins: normalised },
    });
    await tx.flush();
    await announceChange(tx, {
      environmentIds: [environmentId],
      kind: 'sdkkey.updated',
      bumpVersion: false,
      actor: changeActor(actor),
    });
    return key;
  });
}
