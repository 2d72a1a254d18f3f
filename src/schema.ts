/** The GraphQL schema: every module's types, queries, mutations and subscriptions, assembled. */
import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './graphql/builder.js';
// Each module adds its types, queries and mutations to the builder when imported.
import './modules/accounts/schema.js';
import './modules/signup/schema.js';
import './modules/projects/schema.js';
import './modules/members/schema.js';
import './modules/flags/schema.js';
import './modules/segments/schema.js';
import './modules/keys/schema.js';
import './modules/tokens/schema.js';
import './modules/sso/schema.js';
import './modules/audit/schema.js';
import './modules/approvals/schema.js';
import './modules/invitations/schema.js';
import './modules/webhooks/schema.js';
import './modules/metrics/schema.js';
import './modules/flags/usage.js';
// Subscriptions, next to their domains: flagChanged (dashboards) and flagValues (SDKs).
import './modules/flags/live.js';
import './modules/sdk/live.js';
import './modules/approvals/live.js';

export const schema = builder.toSchema();

/** The SDL integrators read in schema/schema.graphql. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
