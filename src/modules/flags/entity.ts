import { EntitySchema } from '@mikro-orm/core';
import { timestamps, updatedAt } from '../../db/columns.js';
import type { FlagEnvState, FlagKind, Variation } from '../../evaluation/index.js';
import type { Environment, Project } from '../projects/entity.js';
import { EnvironmentSchema, ProjectSchema } from '../projects/entity.js';

/** The environment-independent part of a flag (the engine's FlagDefinition plus bookkeeping). */
export interface Flag {
  id: string;
  project: Project;
  /** Immutable: SDKs, prerequisites and rollout buckets all refer to the flag by key. */
  key: string;
  name: string;
  description: string;
  kind: FlagKind;
  variations: Variation[];
  tags: string[];
  clientSideAvailable: boolean;
  temporary: boolean;
  /** Bucketing salt; null means the engine's default (the flag key). */
  salt: string | null;
  archivedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A flag's targeting in one environment (the engine's FlagEnvState). */
export interface FlagState extends FlagEnvState {
  id: string;
  flag: Flag;
  environment: Environment;
  // `version` is bumped by every change to this state; writers send the version they read
  // (optimistic concurrency).
  updatedAt: Date;
}

export const FlagSchema = new EntitySchema<Flag>({
  name: 'Flag',
  tableName: 'flags',
  properties: {
    id: { type: 'uuid', primary: true },
    project: { kind: 'm:1', entity: () => ProjectSchema, deleteRule: 'cascade' },
    key: { type: 'string', length: 100 },
    name: { type: 'string', length: 200 },
    description: { type: 'text', default: '' },
    kind: { type: 'string', length: 10 },
    variations: { type: 'json' },
    tags: { type: 'string[]', default: '{}' },
    clientSideAvailable: { type: 'boolean', default: false },
    temporary: { type: 'boolean', default: true },
    salt: { type: 'string', length: 100, nullable: true },
    archivedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    ...timestamps,
  },
  uniques: [{ properties: ['project', 'key'] }],
});

export const FlagStateSchema = new EntitySchema<FlagState>({
  name: 'FlagState',
  tableName: 'flag_states',
  properties: {
    id: { type: 'uuid', primary: true },
    flag: { kind: 'm:1', entity: () => FlagSchema, deleteRule: 'cascade' },
    environment: { kind: 'm:1', entity: () => EnvironmentSchema, deleteRule: 'cascade', index: true },
    on: { type: 'boolean', default: false },
    offVariation: { type: 'integer' },
    targets: { type: 'json' },
    rules: { type: 'json' },
    fallthrough: { type: 'json' },
    prerequisites: { type: 'json' },
    version: { type: 'integer', default: 1 },
    updatedAt,
  },
  uniques: [{ properties: ['flag', 'environment'] }],
});
