import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { useCan, useViewer } from '../../session/viewer.tsx';
import { Confirm } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page } from '../../ui/Page.tsx';
import { Invitations } from './Invitations.tsx';
import { RoleSelect } from './RoleSelect.tsx';

const MembersQuery = graphql(`
  query Members($offset: Int) {
    organization { id name memberCount }
    members(limit: 50, offset: $offset) {
      total hasMore offset
      data { role joinedAt user { id name email } }
    }
  }
`);
const AddMember = graphql(`
  mutation AddMember($email: String!, $role: Role!) { addMember(email: $email, role: $role) { role user { id } } }
`);
const UpdateRole = graphql(`
  mutation UpdateMemberRole($userId: ID!, $role: Role!) { updateMemberRole(userId: $userId, role: $role) { role user { id } } }
`);
const RemoveMember = graphql(`mutation RemoveMember($userId: ID!) { removeMember(userId: $userId) { user { id } } }`);

type Role = 'owner' | 'admin' | 'developer' | 'viewer';
const ROLES: { role: Role; hint: string }[] = [
  { role: 'viewer', hint: 'reads everything' },
  { role: 'developer', hint: 'changes flags, segments, projects' },
  { role: 'admin', hint: 'also SDK keys, members, deletions' },
  { role: 'owner', hint: 'everything, including owners' },
];

export function Members() {
  const can = useCan();
  const viewer = useViewer();
  const [offset, setOffset] = useState(0);
  const [result] = useQuery({ query: MembersQuery, variables: { offset } });
  const [removing, setRemoving] = useState<{ id: string; name: string } | null>(null);
  const add = useAction(AddMember, { success: 'Member added.' });
  const update = useAction(UpdateRole, { notifyErrors: true, success: 'Role changed.' });
  const remove = useAction(RemoveMember, { notifyErrors: true, success: 'Member removed.' });
  const manage = can('member:manage');
  const roles = ROLES.filter((r) => r.role !== 'owner' || can('owner:manage'));
  const page = result.data?.members;

  const submit = async (event: Event) => {
    event.preventDefault();
    const formEl = event.currentTarget as HTMLFormElement;
    const form = new FormData(formEl);
    const done = await add.run({ email: String(form.get('email')), role: String(form.get('role')) as Role });
    if (done) formEl.reset();
  };

  return (
    <Page
      title="Members"
      lead={result.data && `${result.data.organization.name} · ${result.data.organization.memberCount} members`}
    >
      {manage && (
        <form class="row card" onSubmit={submit} aria-label="Add a member">
          <label class="grow">
            Email of an existing Vexil account
            <input name="email" type="email" required />
          </label>
          <RoleSelect roles={roles} />
          <button type="submit" class="primary" disabled={add.fetching}>
            Add member
          </button>
          <ErrorNote error={add.error} />
        </form>
      )}
      <ErrorNote error={result.error} />
      {!page ? (
        result.fetching && <Loading />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Person</th>
                <th scope="col">Role</th>
                <th scope="col">Joined</th>
                {manage && (
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {page.data.map((m) => {
                const self = m.user.id === viewer.me.user?.id;
                const editable = manage && !self && (m.role !== 'owner' || can('owner:manage'));
                return (
                  <tr key={m.user.id}>
                    <th scope="row">
                      {m.user.name} {self && <span class="badge">you</span>}
                      <div class="muted">{m.user.email}</div>
                    </th>
                    <td>
                      {editable ? (
                        <label>
                          <span class="visually-hidden">Role of {m.user.name}</span>
                          <select
                            value={m.role}
                            onChange={(e) =>
                              void update.run({ userId: m.user.id, role: e.currentTarget.value as Role })
                            }
                          >
                            {roles.map((r) => (
                              <option key={r.role} value={r.role}>
                                {r.role}
                              </option>
                            ))}
                          </select>
                        </label>
                      ) : (
                        m.role
                      )}
                    </td>
                    <td>{new Date(m.joinedAt).toLocaleDateString()}</td>
                    {manage && (
                      <td>
                        {editable && (
                          <button
                            type="button"
                            class="small danger"
                            onClick={() => setRemoving({ id: m.user.id, name: m.user.name })}
                          >
                            Remove…
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {page && (page.offset > 0 || page.hasMore) && (
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>
            Previous
          </button>
          <button type="button" disabled={!page.hasMore} onClick={() => setOffset(offset + 50)}>
            Next
          </button>
        </nav>
      )}
      <Confirm
        open={removing !== null}
        title={`Remove ${removing?.name ?? ''}?`}
        confirmLabel="Remove member"
        danger
        busy={remove.fetching}
        onCancel={() => setRemoving(null)}
        onConfirm={async () => {
          if (removing) await remove.run({ userId: removing.id });
          setRemoving(null);
        }}
      >
        <p>They lose access to the organization at once; their personal access tokens stop working.</p>
      </Confirm>
      <Invitations manage={manage} roles={roles} />
    </Page>
  );
}
