import { randomUUID } from 'node:crypto';
import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { hashPassword } from '../../auth/passwords.js';
import type { Role } from '../../auth/permissions.js';
import type { SessionSettings } from '../../auth/session.js';
import { ConflictError } from '../../errors.js';
import { announceChange } from '../../realtime/changes.js';
import { MembershipSchema, OrganizationSchema, UserSchema } from '../accounts/entity.js';
import { assertPassword, issueSession, memberPrincipal, normaliseEmail } from '../accounts/service.js';
import { recordAudit } from '../audit/service.js';
import { EnvironmentSchema } from '../projects/entity.js';
import { addProject, type EnvironmentProvisioner } from '../projects/service.js';
import { assertName, slugify } from '../slug.js';

/**
 * Signing up: a person, their organization and its Default project, made at once. Its own module
 * because it is where accounts meet projects: neither of them knows the other.
 */

async function uniqueOrganizationSlug(em: EntityManager, name: string): Promise<string> {
  const base = slugify(name);
  const taken = new Set(
    (await em.find(OrganizationSchema, { slug: { $like: `${base}%` } }, { fields: ['slug'] })).map((o) => o.slug),
  );
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

export interface RegisterInput {
  email: string;
  password: string;
  name: string;
  orgName: string;
}

/**
 * One transaction: the user, the organization (owner membership), its Default project and the
 * project's dev, staging and production environments.
 */
export async function register(
  em: EntityManager,
  settings: SessionSettings,
  input: RegisterInput,
  provisioners: readonly EnvironmentProvisioner[],
) {
  const email = normaliseEmail(input.email);
  assertPassword(input.password);
  const name = assertName(input.name, 'name');
  const orgName = assertName(input.orgName, 'org_name');
  const passwordHash = await hashPassword(input.password);

  try {
    return await em.transactional(async (tx) => {
      if (await tx.count(UserSchema, { email })) throw new ConflictError('email is already registered');
      const now = new Date();
      const user = tx.create(UserSchema, {
        id: randomUUID(),
        email,
        name,
        passwordHash,
        managedByOrganization: null,
        createdAt: now,
        updatedAt: now,
      });
      const organization = tx.create(OrganizationSchema, {
        id: randomUUID(),
        name: orgName,
        slug: await uniqueOrganizationSlug(tx, orgName),
        ssoSecretEncrypted: null,
        ssoAudience: null,
        ssoIssuer: null,
        createdAt: now,
        updatedAt: now,
      });
      const membership = tx.create(MembershipSchema, {
        id: randomUUID(),
        organization,
        user,
        role: 'owner' as Role,
        createdAt: now,
        updatedAt: now,
      });
      const project = await addProject(tx, organization, { name: 'Default', slug: 'default' }, provisioners);
      recordAudit(tx, memberPrincipal(membership), {
        action: 'organization.created',
        resourceType: 'organization',
        resourceId: organization.id,
        details: { name: orgName, slug: organization.slug },
      });
      const tokens = await issueSession(tx, settings, user, organization);
      // Every node builds the new environments' snapshots and key caches before an SDK asks.
      const environments = await tx.find(EnvironmentSchema, { project });
      await announceChange(tx, {
        environmentIds: environments.map((e) => e.id),
        kind: 'environment.created',
        actor: { userId: user.id, tokenId: null },
      });
      return { user, organization, tokens };
    });
  } catch (e) {
    // Two registrations racing for one email: the unique index decides.
    if (e instanceof UniqueConstraintViolationException) throw new ConflictError('email is already registered');
    throw e;
  }
}
