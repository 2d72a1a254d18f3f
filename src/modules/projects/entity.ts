import { EntitySchema, type Opt } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.js';
import type { Organization } from '../accounts/entity.js';
import { OrganizationSchema } from '../accounts/entity.js';

export interface Project {
  id: string;
  organization: Organization;
  name: string;
  slug: string;
  description: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface Environment {
  id: string;
  project: Project;
  key: string;
  name: string;
  color: string | null;
  sortOrder: number;
  /** Bumped by every change to what this environment evaluates; SSE event ids and ETags derive from it. */
  version: number;
  /** Changes to what this environment evaluates wait for reviewers (modules/approvals); the kill switch never does. */
  requiresApproval: Opt<boolean>;
  /** Approvals from distinct reviewers a change needs here (1 or more). */
  minApprovals: Opt<number>;
  createdAt: Date;
  updatedAt: Date;
}

export const ProjectSchema = new EntitySchema<Project>({
  name: 'Project',
  tableName: 'projects',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: { kind: 'm:1', entity: () => OrganizationSchema, deleteRule: 'cascade' },
    name: { type: 'string', length: 200 },
    slug: { type: 'string', length: 100 },
    description: { type: 'text', default: '' },
    ...timestamps,
  },
  uniques: [{ properties: ['organization', 'slug'] }],
});

export const EnvironmentSchema = new EntitySchema<Environment>({
  name: 'Environment',
  tableName: 'environments',
  properties: {
    id: { type: 'uuid', primary: true },
    project: { kind: 'm:1', entity: () => ProjectSchema, deleteRule: 'cascade' },
    key: { type: 'string', length: 100 },
    name: { type: 'string', length: 200 },
    color: { type: 'string', length: 20, nullable: true },
    sortOrder: { type: 'integer' },
    version: { type: 'integer', default: 1 },
    requiresApproval: { type: 'boolean', default: false },
    minApprovals: { type: 'integer', default: 1 },
    ...timestamps,
  },
  uniques: [{ properties: ['project', 'key'] }],
});
