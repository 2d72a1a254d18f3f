import { builder } from '../../graphql/builder.js';
import { actorOf } from '../../graphql/context.js';
import { rateLimited } from '../../graphql/limits.js';
import { OrganizationType } from '../accounts/schema.js';
import { rotateSsoSecret, updateSsoSettings } from './service.js';

builder.objectFields(OrganizationType, (t) => ({
  ssoConfigured: t.boolean({
    description: 'Whether an SSO secret exists for single sign-on and acting on behalf of members.',
    authScopes: { permission: 'org:read' },
    resolve: (org) => org.ssoSecretEncrypted !== null,
  }),
  ssoAudience: t.string({
    nullable: true,
    description: 'When set, an SSO JWT must carry this `aud`.',
    authScopes: { permission: 'org:read' },
    resolve: (org) => org.ssoAudience,
  }),
  ssoIssuer: t.string({
    nullable: true,
    description: 'When set, an SSO JWT must carry this `iss`.',
    authScopes: { permission: 'org:read' },
    resolve: (org) => org.ssoIssuer,
  }),
}));

const SsoSettingsInput = builder.inputType('SsoSettingsInput', {
  fields: (t) => ({
    audience: t.string({ required: false, description: 'The `aud` SSO JWTs must carry; null clears it.' }),
    issuer: t.string({ required: false, description: 'The `iss` SSO JWTs must carry; null clears it.' }),
  }),
});

builder.mutationFields((t) => ({
  rotateSsoSecret: t.string({
    description: "Creates or replaces the organization's SSO secret (owner only). The value is returned this once.",
    extensions: rateLimited({ sensitive: true }),
    authScopes: { permission: 'owner:manage' },
    resolve: (_r, _a, ctx) => rotateSsoSecret(ctx.em, actorOf(ctx), ctx.settings.jwtSecret),
  }),
  updateSsoSettings: t.field({
    type: OrganizationType,
    description:
      'Sets the audience and issuer SSO JWTs must carry (owner only). An omitted field is left as it is; null clears it.',
    extensions: rateLimited({ sensitive: true }),
    authScopes: { permission: 'owner:manage' },
    args: { input: t.arg({ type: SsoSettingsInput, required: true }) },
    resolve: (_r, { input }, ctx) => updateSsoSettings(ctx.em, actorOf(ctx), input),
  }),
}));
