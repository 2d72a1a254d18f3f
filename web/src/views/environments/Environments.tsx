import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql, type ResultOf } from '../../graphql/index.ts';
import { useCan } from '../../session/viewer.tsx';
import { ConfirmDelete, Dialog, FormActions } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page } from '../../ui/Page.tsx';
import { RenameButton } from '../../ui/Rename.tsx';
import { ApprovalSettings } from './ApprovalSettings.tsx';
import { ClientSide } from './ClientSide.tsx';
import { SdkKeys } from './SdkKeys.tsx';

export const EnvironmentsQuery = graphql(`
  query Environments($slug: String!, $withKeys: Boolean!) {
    project(slug: $slug) {
      id name
      environments {
        id key name color sortOrder version createdAt
        clientSideId authorizedOrigins unsafeOrigins requiresApproval minApprovals
        sdkKeys @include(if: $withKeys) {
          id kind name masked active createdAt lastUsedAt revokedAt expiresAt createdBy { name }
        }
      }
    }
  }
`);

export type EnvironmentRow = ResultOf<typeof EnvironmentsQuery>['project']['environments'][number];

const CreateEnvironment = graphql(`
  mutation CreateEnvironment($projectId: ID!, $input: CreateEnvironmentInput!) {
    createEnvironment(projectId: $projectId, input: $input) { id key }
  }
`);
const UpdateEnvironment = graphql(`
  mutation UpdateEnvironment($id: ID!, $input: UpdateEnvironmentInput!) {
    updateEnvironment(id: $id, input: $input) { id name color sortOrder }
  }
`);
const DeleteEnvironment = graphql(`mutation DeleteEnvironment($id: ID!) { deleteEnvironment(id: $id) { id } }`);

/** The project's environments, each with its SDK keys, client-side ID and authorized origins. */
export function Environments({ project: slug }: { project: string }) {
  const can = useCan();
  const [result] = useQuery({ query: EnvironmentsQuery, variables: { slug, withKeys: can('sdkkey:read') } });
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<EnvironmentRow | null>(null);
  const create = useAction(CreateEnvironment);
  const update = useAction(UpdateEnvironment, { notifyErrors: true, success: 'Saved.' });
  const remove = useAction(DeleteEnvironment, { notifyErrors: true, success: 'Environment deleted.' });
  const project = result.data?.project;

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!project) return;
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const done = await create.run({
      projectId: project.id,
      input: { key: String(form.get('key')), name: String(form.get('name')), color: String(form.get('color')) },
    });
    if (done) setCreating(false);
  };

  return (
    <Page
      title="Environments & SDK keys"
      lead={project && `Project ${project.name}`}
      actions={
        can('environment:write') && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New environment
          </button>
        )
      }
    >
      <ErrorNote error={result.error} />
      {!project && result.fetching && <Loading />}
      {project?.environments.map((env, i) => (
        <section class="card env" key={env.id} aria-labelledby={`env-${env.id}`}>
          <header class="env-header">
            <span class="env-swatch" style={{ backgroundColor: env.color ?? undefined }} aria-hidden="true" />
            <h2 id={`env-${env.id}`}>{env.name}</h2>
            <code>{env.key}</code>
            <span class="muted">version {env.version}</span>
            {can('environment:write') && (
              <div class="actions">
                <label>
                  <span class="visually-hidden">Color of {env.name}</span>
                  <input
                    type="color"
                    value={env.color ?? '#888888'}
                    onChange={(e) => void update.run({ id: env.id, input: { color: e.currentTarget.value } })}
                  />
                </label>
                <button
                  type="button"
                  class="small"
                  disabled={i === 0}
                  aria-label={`Move ${env.name} earlier`}
                  onClick={() => void update.run({ id: env.id, input: { sortOrder: env.sortOrder - 1 } })}
                >
                  ↑
                </button>
                <RenameButton
                  what={env.name}
                  name={env.name}
                  onRename={(name) => update.run({ id: env.id, input: { name } })}
                />
                {can('environment:delete') && (
                  <button type="button" class="small danger" onClick={() => setDeleting(env)}>
                    Delete…
                  </button>
                )}
              </div>
            )}
          </header>
          <ApprovalSettings environment={env} canManage={can('approval:review')} />
          <ClientSide environment={env} canManage={can('sdkkey:manage')} />
          {env.sdkKeys && <SdkKeys environment={env} keys={env.sdkKeys} canManage={can('sdkkey:manage')} />}
        </section>
      ))}
      <Dialog open={creating} title="New environment" onClose={() => setCreating(false)}>
        <form class="stack" onSubmit={submit}>
          <label>
            Key
            <input name="key" required autocomplete="off" placeholder="qa" />
          </label>
          <label>
            Name
            <input name="name" required placeholder="QA" />
          </label>
          <label>
            Color
            <input name="color" type="color" defaultValue="#6366f1" />
          </label>
          <ErrorNote error={create.error} />
          <FormActions submitLabel="Create environment" busy={create.fetching} onCancel={() => setCreating(false)} />
        </form>
      </Dialog>
      <ConfirmDelete
        item={deleting}
        noun="environment"
        busy={remove.fetching}
        onDelete={(item) => remove.run({ id: item.id })}
        onDone={() => setDeleting(null)}
      >
        <p>Its flag states and SDK keys are deleted; SDKs using its keys get 401 from now on.</p>
      </ConfirmDelete>
    </Page>
  );
}
