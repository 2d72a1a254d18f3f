import { builder } from '../../graphql/builder.js';
import { rateLimited } from '../../graphql/limits.js';
import { SessionType } from '../accounts/schema.js';
import { register } from './service.js';

const RegisterInput = builder.inputType('RegisterInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
    name: t.string({ required: true }),
    orgName: t.string({ required: true }),
  }),
});

builder.mutationField('register', (t) =>
  t.field({
    type: SessionType,
    description:
      'Creates a user, their organization (as owner), a Default project and its dev, staging and production environments.',
    // Counted with the REST auth routes: the auth budget of the caller's IP.
    extensions: rateLimited({ budget: 'auth' }),
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    resolve: (_root, { input }, ctx) => register(ctx.em, ctx.settings, input, ctx.services.environmentProvisioners),
  }),
);
