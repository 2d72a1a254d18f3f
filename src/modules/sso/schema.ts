import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { OrganizationType } from '../accounts/schema.js';
import { rotateSsoSecret } from './service.js';

builder.objectField(OrganizationType, 'ssoConfigured', (t) =>
  t.boolean({
    description: 'Whether an SSO secret exists for acting on behalf of members.',
    authScopes: { permission: 'org:read' },
    resolve: (org) => org.ssoSecretEncrypted !== null,
  }),
);

builder.mutationField('rotateSsoSecret', (t) =>
  t.string({
    description: "Creates or replaces the organization's SSO secret (owner only). The value is returned this once.",
    authScopes: { permission: 'owner:manage' },
    resolve: (_r, _a, ctx) => rotateSsoSecret(ctx.em, actorOf(ctx), ctx.settings.jwtSecret),
  }),
);
