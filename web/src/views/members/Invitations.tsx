import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { Copyable } from '../../ui/Copy.tsx';
import { Confirm } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { When } from '../../ui/time.tsx';
import { RoleSelect } from './RoleSelect.tsx';

const InvitationsQuery = graphql(`
  query Invitations { invitations(limit: 100) { total data { id email role createdAt expiresAt } } }
`);
const InviteMember = graphql(`
  mutation InviteMember($email: String!, $role: Role!) {
    inviteMember(email: $email, role: $role) { acceptUrl mailed invitation { id email role expiresAt } }
  }
`);
const RevokeInvitation = graphql(`mutation RevokeInvitation($id: ID!) { revokeInvitation(id: $id) { id revokedAt } }`);

/**
 * Inviting people by email with a role, and the invitations still waiting. The accept link is
 * answered once: Vexil mails it only when SMTP is configured, so it is shown to pass on.
 */
export function Invitations(props: { manage: boolean; roles: { role: string; hint: string }[] }) {
  const [result, reexecute] = useQuery({ query: InvitationsQuery });
  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  const invite = useAction(InviteMember);
  const revoke = useAction(RevokeInvitation, { notifyErrors: true, success: 'Invitation revoked.' });
  const [created, setCreated] = useState<{ email: string; acceptUrl: string; mailed: boolean } | null>(null);
  const [revoking, setRevoking] = useState<{ id: string; email: string } | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const formEl = event.currentTarget as HTMLFormElement;
    const form = new FormData(formEl);
    const done = await invite.run({
      email: String(form.get('email')),
      role: String(form.get('role')) as 'viewer' | 'developer' | 'admin' | 'owner',
    });
    if (done) {
      const { acceptUrl, mailed, invitation } = done.inviteMember;
      setCreated({ email: invitation.email, acceptUrl, mailed });
      formEl.reset();
      refetch();
    }
  };
  const pending = result.data?.invitations.data ?? [];

  return (
    <section class="stack invitations" aria-labelledby="invitations-title">
      <h2 id="invitations-title">Invitations</h2>
      {props.manage && (
        <form class="row card" onSubmit={submit} aria-label="Invite by email">
          <label class="grow">
            Email to invite
            <input name="email" type="email" required />
          </label>
          <RoleSelect roles={props.roles} />
          <button type="submit" class="primary" disabled={invite.fetching}>
            Invite
          </button>
          <ErrorNote error={invite.error} />
        </form>
      )}
      {created && (
        <div class="card stack" role="status" aria-label="Invitation created">
          <p>
            {created.mailed
              ? `Invitation mailed to ${created.email}. You can also pass on this link yourself:`
              : `No mail is sent (SMTP is not configured): pass this link on to ${created.email}.`}{' '}
            It works once, for 7 days, and is not shown again.
          </p>
          <Copyable value={created.acceptUrl} label="Invitation link" />
          <div class="actions">
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <ErrorNote error={result.error} />
      {pending.length === 0 ? (
        <p class="muted">No invitations waiting.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Invitations waiting to be accepted</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Sent</th>
                <th scope="col">Expires</th>
                {props.manage && (
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {pending.map((i) => (
                <tr key={i.id} data-invitation={i.email}>
                  <th scope="row">{i.email}</th>
                  <td>{i.role}</td>
                  <td>
                    <When iso={i.createdAt} />
                  </td>
                  <td>
                    <When iso={i.expiresAt} />
                  </td>
                  {props.manage && (
                    <td>
                      <button type="button" class="small danger" onClick={() => setRevoking(i)}>
                        Revoke…
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Confirm
        open={revoking !== null}
        title={`Revoke the invitation of ${revoking?.email ?? ''}?`}
        confirmLabel="Revoke invitation"
        danger
        busy={revoke.fetching}
        onCancel={() => setRevoking(null)}
        onConfirm={async () => {
          if (revoking && (await revoke.run({ id: revoking.id }))) refetch();
          setRevoking(null);
        }}
      >
        <p>Its link stops working at once.</p>
      </Confirm>
    </section>
  );
}
