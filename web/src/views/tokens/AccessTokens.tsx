import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { useCan, useViewer } from '../../session/viewer.tsx';
import { ConfirmDelete, Dialog, FormActions } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page, when } from '../../ui/Page.tsx';
import { ShownOnce } from '../../ui/ShownOnce.tsx';

const TokensQuery = graphql(`
  query AccessTokens {
    accessTokens(limit: 100) {
      total
      data { id kind name masked active createdAt lastUsedAt permissions environmentIds owner { id name } }
    }
    projects(limit: 100) { data { id name environments { id name } } }
  }
`);
const CreateToken = graphql(`
  mutation CreateAccessToken($input: CreateAccessTokenInput!) {
    createAccessToken(input: $input) { value token { id masked } }
  }
`);
const UpdateToken = graphql(`
  mutation UpdateAccessToken($id: ID!, $input: UpdateAccessTokenInput!) { updateAccessToken(id: $id, input: $input) { id active name } }
`);
const DeleteToken = graphql(`mutation DeleteAccessToken($id: ID!) { deleteAccessToken(id: $id) { id } }`);

/** Personal (acts as you, never beyond your role) and service tokens for integrations. */
export function AccessTokens() {
  const can = useCan();
  const viewer = useViewer();
  const [result] = useQuery({ query: TokensQuery });
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<{ id: string; name: string } | null>(null);
  const create = useAction(CreateToken);
  const update = useAction(UpdateToken, { notifyErrors: true });
  const remove = useAction(DeleteToken, { notifyErrors: true, success: 'Token deleted.' });
  const kinds = [
    ...(can('token:manage-personal') ? (['PERSONAL'] as const) : []),
    ...(can('token:manage-service') ? (['SERVICE'] as const) : []),
  ];
  const environments = (result.data?.projects.data ?? []).flatMap((p) =>
    p.environments.map((e) => ({ id: e.id, label: `${p.name} / ${e.name}` })),
  );
  const envName = new Map(environments.map((e) => [e.id, e.label]));
  const mayManage = (ownerId: string | undefined) =>
    can('member:manage') || (ownerId === viewer.me.user?.id && kinds.length > 0);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const envs = form.getAll('environmentIds').map(String);
    const data = await create.run({
      input: {
        name: String(form.get('name')),
        kind: form.get('kind') === 'SERVICE' ? 'SERVICE' : 'PERSONAL',
        permissions: form.getAll('permissions').map(String),
        environmentIds: envs.length ? envs : null,
      },
    });
    if (data) {
      setCreating(false);
      setShown(data.createAccessToken.value);
    }
  };

  return (
    <Page
      title="Access tokens"
      lead="For scripts and integrations calling the management API (Authorization: Bearer vx_…)."
      actions={
        kinds.length > 0 && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New token
          </button>
        )
      }
    >
      <ErrorNote error={result.error} />
      {!result.data ? (
        result.fetching && <Loading />
      ) : result.data.accessTokens.data.length === 0 ? (
        <p class="empty">No access tokens.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Token</th>
                <th scope="col">Scopes</th>
                <th scope="col">Environments</th>
                <th scope="col">Last used</th>
                <th scope="col">Active</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {result.data.accessTokens.data.map((t) => (
                <tr key={t.id}>
                  <th scope="row">
                    {t.name} <code>{t.masked}</code>
                    <div class="muted">
                      {t.kind.toLowerCase()} · {t.owner?.name ?? 'former member'} · created {when(t.createdAt)}
                    </div>
                  </th>
                  <td class="scopes">
                    {t.permissions.map((p) => (
                      <span class="badge" key={p}>
                        {p}
                      </span>
                    ))}
                  </td>
                  <td>{t.environmentIds ? t.environmentIds.map((id) => envName.get(id) ?? id).join(', ') : 'all'}</td>
                  <td>{when(t.lastUsedAt)}</td>
                  <td>
                    {mayManage(t.owner?.id) ? (
                      <label class="check">
                        <input
                          type="checkbox"
                          checked={t.active}
                          onChange={(e) => void update.run({ id: t.id, input: { active: e.currentTarget.checked } })}
                        />
                        <span class="visually-hidden">{t.name} active</span>
                      </label>
                    ) : t.active ? (
                      'yes'
                    ) : (
                      'no'
                    )}
                  </td>
                  <td>
                    {mayManage(t.owner?.id) && (
                      <button
                        type="button"
                        class="small danger"
                        onClick={() => setDeleting({ id: t.id, name: t.name })}
                      >
                        Delete…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Dialog open={creating} title="New access token" onClose={() => setCreating(false)}>
        <form class="stack" onSubmit={submit}>
          <label>
            Name
            <input name="name" required placeholder="deploy pipeline" />
          </label>
          <label>
            Kind
            <select name="kind">
              {kinds.map((k) => (
                <option key={k} value={k}>
                  {k === 'PERSONAL'
                    ? 'Personal: acts as you, never beyond your current role'
                    : 'Service: fixed scopes, independent of you'}
                </option>
              ))}
            </select>
          </label>
          <fieldset class="scopes-picker">
            <legend>Scopes (at most yours)</legend>
            {viewer.me.permissions.map((p) => (
              <label class="check" key={p}>
                <input type="checkbox" name="permissions" value={p} defaultChecked={p.endsWith(':read')} /> {p}
              </label>
            ))}
          </fieldset>
          <label>
            Only these environments (none selected: all)
            <select name="environmentIds" multiple size={Math.min(6, environments.length)}>
              {environments.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.label}
                </option>
              ))}
            </select>
          </label>
          <ErrorNote error={create.error} />
          <FormActions submitLabel="Create token" busy={create.fetching} onCancel={() => setCreating(false)} />
        </form>
      </Dialog>
      <ShownOnce
        title="Copy the new token now"
        values={shown ? [{ value: shown, label: 'New access token' }] : null}
        onClose={() => setShown(null)}
      >
        <p>This is the only time the token is shown. Vexil keeps only its hash.</p>
      </ShownOnce>
      <ConfirmDelete
        item={deleting}
        noun="token"
        busy={remove.fetching}
        onDelete={(item) => remove.run({ id: item.id })}
        onDone={() => setDeleting(null)}
      >
        <p>Anything using it gets 401 from now on.</p>
      </ConfirmDelete>
    </Page>
  );
}
