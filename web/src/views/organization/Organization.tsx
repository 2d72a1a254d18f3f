import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { useCan } from '../../session/viewer.tsx';
import { Copyable } from '../../ui/Copy.tsx';
import { Confirm, Dialog } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page } from '../../ui/Page.tsx';

const OrganizationQuery = graphql(`
  query OrganizationSettings {
    organization { id name slug createdAt memberCount ssoConfigured }
  }
`);
const RotateSsoSecret = graphql(`mutation RotateSsoSecret { rotateSsoSecret }`);

/** The organization, and its SSO secret (integrations acting on behalf of members; owners only). */
export function Organization() {
  const can = useCan();
  const [result] = useQuery({ query: OrganizationQuery });
  const [asking, setAsking] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const rotate = useAction(RotateSsoSecret, { notifyErrors: true });
  const org = result.data?.organization;
  return (
    <Page title="Organization">
      <ErrorNote error={result.error} />
      {!org ? (
        result.fetching && <Loading />
      ) : (
        <>
          <section class="card" aria-labelledby="org-about">
            <h2 id="org-about">{org.name}</h2>
            <dl class="kv">
              <div>
                <dt>Slug</dt>
                <dd>
                  <code>{org.slug}</code>
                </dd>
              </div>
              <div>
                <dt>Members</dt>
                <dd>{org.memberCount}</dd>
              </div>
              <div>
                <dt>Created</dt>
                <dd>{new Date(org.createdAt).toLocaleDateString()}</dd>
              </div>
            </dl>
          </section>
          <section class="card" aria-labelledby="org-sso">
            <h2 id="org-sso">Single sign-on secret</h2>
            <p>
              An HS256 secret your identity provider or integration signs member JWTs with: exchanged for a session at{' '}
              <code>POST /v1/auth/sso</code>, or sent with an access token to act on behalf of a member.
            </p>
            <p>
              Status: <strong>{org.ssoConfigured ? 'configured' : 'not configured'}</strong>
            </p>
            {can('owner:manage') && (
              <button type="button" onClick={() => setAsking(true)}>
                {org.ssoConfigured ? 'Replace the secret…' : 'Create a secret'}
              </button>
            )}
          </section>
        </>
      )}
      <Confirm
        open={asking}
        title={org?.ssoConfigured ? 'Replace the SSO secret?' : 'Create an SSO secret?'}
        confirmLabel={org?.ssoConfigured ? 'Replace secret' : 'Create secret'}
        danger={org?.ssoConfigured}
        busy={rotate.fetching}
        onCancel={() => setAsking(false)}
        onConfirm={async () => {
          const data = await rotate.run({});
          setAsking(false);
          if (data) setSecret(data.rotateSsoSecret);
        }}
      >
        <p>
          {org?.ssoConfigured
            ? 'JWTs signed with the current secret stop working at once.'
            : 'The secret is shown once, then stored encrypted.'}
        </p>
      </Confirm>
      <Dialog open={secret !== null} title="Copy the SSO secret now" onClose={() => setSecret(null)}>
        <p>This is the only time the secret is shown.</p>
        {secret && <Copyable value={secret} label="SSO secret" />}
        <div class="actions">
          <button type="button" class="primary" onClick={() => setSecret(null)}>
            I have copied it
          </button>
        </div>
      </Dialog>
    </Page>
  );
}
