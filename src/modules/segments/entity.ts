import { EntitySchema } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.js';
import type { SegmentRule } from '../../evaluation/index.js';
import type { Project } from '../projects/entity.js';
import { ProjectSchema } from '../projects/entity.js';

/** A reusable audience of a project (the engine's Segment plus bookkeeping); the same in every environment. */
export interface Segment {
  id: string;
  project: Project;
  key: string;
  name: string;
  description: string;
  included: string[];
  excluded: string[];
  rules: SegmentRule[];
  /** Bumped by every update; writers may send the version they read. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export const SegmentSchema = new EntitySchema<Segment>({
  name: 'Segment',
  tableName: 'segments',
  properties: {
    id: { type: 'uuid', primary: true },
    project: { kind: 'm:1', entity: () => ProjectSchema, deleteRule: 'cascade' },
    key: { type: 'string', length: 100 },
    name: { type: 'string', length: 200 },
    description: { type: 'text', default: '' },
    included: { type: 'json' },
    excluded: { type: 'json' },
    rules: { type: 'json' },
    version: { type: 'integer', default: 1 },
    ...timestamps,
  },
  uniques: [{ properties: ['project', 'key'] }],
});
