import type { Permission } from '../../auth/permissions.js';
import type { GraphQLContext } from '../../graphql/context.js';
import type { Project } from './entity.js';
import { listEnvironments } from './service.js';

/** The subset of the builder's scope map these helpers build. */
export interface EnvironmentScopes {
  permission?: Permission;
  everyEnvironmentPermission?: { permission: Permission; environmentIds: readonly string[] };
}

/** `permission`, and for environment-narrowed credentials `permission` in each of `environmentIds`. */
export function inEveryEnvironment(permission: Permission, environmentIds: readonly string[]): EnvironmentScopes {
  return { everyEnvironmentPermission: { permission, environmentIds } };
}

/**
 * For changes that reach every environment of a project (a flag's variations, archiving, a
 * segment's rules): a credential narrowed to some environments must cover all of them. The
 * project is only looked up for narrowed credentials; when it cannot be found the resolver
 * answers NOT_FOUND under the plain permission.
 */
export async function inEveryEnvironmentOf(
  ctx: GraphQLContext,
  permission: Permission,
  findProject: () => Promise<Project | null | undefined>,
): Promise<EnvironmentScopes> {
  if (!ctx.principal?.environmentIds) return { permission };
  const project = await findProject();
  if (!project) return { permission };
  const environments = await listEnvironments(ctx.em, project);
  return inEveryEnvironment(
    permission,
    environments.map((e) => e.id),
  );
}
