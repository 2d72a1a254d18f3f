import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { graphql } from '../../graphql/index.ts';
import { useCan } from '../../session/viewer.tsx';
import { Dialog, FormActions } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page } from '../../ui/Page.tsx';

const SegmentListQuery = graphql(`
  query SegmentList($slug: String!, $offset: Int) {
    project(slug: $slug) {
      id name
      segments(limit: 50, offset: $offset) {
        total hasMore offset
        data { id key name description included excluded rules { id } updatedAt }
      }
    }
  }
`);

const CreateSegment = graphql(`
  mutation CreateSegment($projectId: ID!, $input: CreateSegmentInput!) {
    createSegment(projectId: $projectId, input: $input) { id key }
  }
`);

export function SegmentList({ project: slug }: { project: string }) {
  const can = useCan();
  const location = useLocation();
  const [offset, setOffset] = useState(0);
  const [result] = useQuery({ query: SegmentListQuery, variables: { slug, offset } });
  const [creating, setCreating] = useState(false);
  const create = useAction(CreateSegment);
  const project = result.data?.project;

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!project) return;
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const data = await create.run({
      projectId: project.id,
      input: {
        key: String(form.get('key')),
        name: String(form.get('name') || '') || null,
        description: String(form.get('description') ?? ''),
      },
    });
    if (data) location.route(`/p/${slug}/segments/${encodeURIComponent(data.createSegment.key)}`);
  };

  return (
    <Page
      title="Segments"
      lead="Reusable audiences: flags target them with “is in segment” conditions, the same in every environment."
      actions={
        can('segment:write') && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New segment
          </button>
        )
      }
    >
      <ErrorNote error={result.error} />
      {!project ? (
        result.fetching && <Loading />
      ) : project.segments.data.length === 0 ? (
        <p class="empty">No segments yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Segment</th>
                <th scope="col">Included</th>
                <th scope="col">Excluded</th>
                <th scope="col">Rules</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {project.segments.data.map((s) => (
                <tr key={s.id}>
                  <th scope="row">
                    <a href={`/p/${slug}/segments/${encodeURIComponent(s.key)}`}>{s.name}</a>
                    <div class="flag-meta">
                      <code>{s.key}</code> {s.description && <span class="muted">{s.description}</span>}
                    </div>
                  </th>
                  <td>{s.included.length}</td>
                  <td>{s.excluded.length}</td>
                  <td>{s.rules.length}</td>
                  <td>{new Date(s.updatedAt).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {project && (project.segments.offset > 0 || project.segments.hasMore) && (
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>
            Previous
          </button>
          <button type="button" disabled={!project.segments.hasMore} onClick={() => setOffset(offset + 50)}>
            Next
          </button>
        </nav>
      )}
      <Dialog open={creating} title="New segment" onClose={() => setCreating(false)}>
        <form class="stack" onSubmit={submit}>
          <label>
            Key
            <input name="key" required autocomplete="off" placeholder="beta-testers" />
          </label>
          <label>
            Name
            <input name="name" placeholder="Defaults to the key" />
          </label>
          <label>
            Description
            <input name="description" />
          </label>
          <ErrorNote error={create.error} />
          <FormActions submitLabel="Create segment" busy={create.fetching} onCancel={() => setCreating(false)} />
        </form>
      </Dialog>
    </Page>
  );
}
