import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { graphql } from '../../graphql/index.ts';
import { useCan } from '../../session/viewer.tsx';
import { ConfirmDelete, Dialog, FormActions } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page } from '../../ui/Page.tsx';
import { RenameButton } from '../../ui/Rename.tsx';

const ProjectsQuery = graphql(`
  query Projects {
    projects(limit: 100) {
      total
      data { id slug name description createdAt environments { id key name color } }
    }
  }
`);
const CreateProject = graphql(`
  mutation CreateProject($input: CreateProjectInput!) { createProject(input: $input) { id slug } }
`);
const UpdateProject = graphql(`
  mutation UpdateProject($id: ID!, $input: UpdateProjectInput!) { updateProject(id: $id, input: $input) { id name description } }
`);
const DeleteProject = graphql(`mutation DeleteProject($id: ID!) { deleteProject(id: $id) { id } }`);

type Project = NonNullable<ReturnType<typeof useProjects>>[number];
const useProjects = () => useQuery({ query: ProjectsQuery })[0].data?.projects.data;

export function Projects() {
  const can = useCan();
  const location = useLocation();
  const [result] = useQuery({ query: ProjectsQuery });
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Project | null>(null);
  const create = useAction(CreateProject);
  const update = useAction(UpdateProject, { notifyErrors: true, success: 'Saved.' });
  const remove = useAction(DeleteProject, { notifyErrors: true, success: 'Project deleted.' });

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const data = await create.run({
      input: {
        name: String(form.get('name')),
        slug: String(form.get('slug') || '') || null,
        description: String(form.get('description') ?? ''),
      },
    });
    if (data) location.route(`/p/${data.createProject.slug}/flags`);
  };

  return (
    <Page
      title="Projects"
      actions={
        can('project:write') && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New project
          </button>
        )
      }
    >
      <ErrorNote error={result.error} />
      {!result.data && result.fetching && <Loading />}
      <ul class="cards">
        {result.data?.projects.data.map((p) => (
          <li class="card" key={p.id}>
            <h2>
              <a href={`/p/${p.slug}/flags`}>{p.name}</a>
            </h2>
            <p class="muted">
              <code>{p.slug}</code> {p.description}
            </p>
            <p>
              {p.environments.map((e) => (
                <span class="badge" key={e.id}>
                  <span class="env-swatch" style={{ backgroundColor: e.color ?? undefined }} aria-hidden="true" />
                  {e.name}
                </span>
              ))}
            </p>
            <div class="actions">
              {can('project:write') && (
                <RenameButton
                  what={p.name}
                  name={p.name}
                  onRename={(name) => update.run({ id: p.id, input: { name } })}
                />
              )}
              {can('project:delete') && (
                <button type="button" class="small danger" onClick={() => setDeleting(p)}>
                  Delete…
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
      <Dialog open={creating} title="New project" onClose={() => setCreating(false)}>
        <form class="stack" onSubmit={submit}>
          <label>
            Name
            <input name="name" required />
          </label>
          <label>
            Slug
            <input name="slug" placeholder="Made from the name" />
          </label>
          <label>
            Description
            <input name="description" />
          </label>
          <p class="muted">New projects get dev, staging and production environments.</p>
          <ErrorNote error={create.error} />
          <FormActions submitLabel="Create project" busy={create.fetching} onCancel={() => setCreating(false)} />
        </form>
      </Dialog>
      <ConfirmDelete
        item={deleting}
        noun="project"
        busy={remove.fetching}
        onDelete={(item) => remove.run({ id: item.id })}
        onDone={() => setDeleting(null)}
      >
        <p>Its environments, flags, segments and SDK keys are deleted with it.</p>
      </ConfirmDelete>
    </Page>
  );
}
