/**
 * The REST management API: every module's route declarations, assembled (as src/schema.ts
 * assembles the GraphQL schema). Each route runs a GraphQL operation of that schema (src/rest/).
 */
import { approvalRoutes } from './modules/approvals/routes.js';
import { auditRoutes } from './modules/audit/routes.js';
import { flagRoutes } from './modules/flags/routes.js';
import { invitationRoutes } from './modules/invitations/routes.js';
import { keyRoutes } from './modules/keys/routes.js';
import { memberRoutes } from './modules/members/routes.js';
import { metricsRoutes } from './modules/metrics/routes.js';
import { projectRoutes } from './modules/projects/routes.js';
import { segmentRoutes } from './modules/segments/routes.js';
import { tokenRoutes } from './modules/tokens/routes.js';
import { webhookRoutes } from './modules/webhooks/routes.js';
import type { AnyRoute } from './rest/route.js';

export const restRoutes: readonly AnyRoute[] = [
  ...projectRoutes,
  ...flagRoutes,
  ...segmentRoutes,
  ...keyRoutes,
  ...auditRoutes,
  ...memberRoutes,
  ...invitationRoutes,
  ...approvalRoutes,
  ...tokenRoutes,
  ...webhookRoutes,
  ...metricsRoutes,
];
