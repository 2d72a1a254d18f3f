import { useQuery } from '@urql/preact';
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { errorCode } from '../../graphql/client.ts';
import { graphql, type VariablesOf } from '../../graphql/index.ts';
import { useCan } from '../../session/viewer.tsx';
import { Confirm } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { notify } from '../../ui/notices.tsx';
import { Loading, Page } from '../../ui/Page.tsx';
import { PendingAnswer } from '../approvals/documents.ts';
import { announcePending } from '../approvals/pending.tsx';
import { ClauseEditor } from '../flags/ClauseEditor.tsx';

const SegmentQuery = graphql(`
  query SegmentDetail($slug: String!, $key: String!) {
    project(slug: $slug) {
      id
      segments(limit: 100) { data { key name } }
      segment(key: $key) {
        id key name description included excluded version updatedAt
        rules { id clauses { attribute op negate values } }
      }
    }
  }
`);

const UpdateSegment = graphql(
  `
  mutation UpdateSegment($id: ID!, $expectedVersion: Int, $input: UpdateSegmentInput!) {
    updateSegment(id: $id, expectedVersion: $expectedVersion, input: $input) { id version pendingChange { ...PendingAnswer } }
  }
`,
  [PendingAnswer],
);
const DeleteSegment = graphql(`mutation DeleteSegment($id: ID!) { deleteSegment(id: $id) { id } }`);

type Input = VariablesOf<typeof UpdateSegment>['input'];
type Rules = NonNullable<Input['rules']>;

const keysOf = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((k) => k.trim())
    .filter(Boolean);

const rulesOf = (segment: { rules: { id: string; clauses: Rules[number]['clauses'] }[] }): Rules =>
  segment.rules.map((r) => ({
    id: r.id,
    clauses: r.clauses.map((c) => ({
      attribute: c.op === 'segmentMatch' ? null : c.attribute,
      op: c.op,
      negate: c.negate,
      values: c.values,
    })),
  }));

export function SegmentDetail({ project: slug, segmentKey: rawKey }: { project: string; segmentKey: string }) {
  const key = decodeURIComponent(rawKey);
  const can = useCan();
  const location = useLocation();
  const readOnly = !can('segment:write');
  const [result] = useQuery({ query: SegmentQuery, variables: { slug, key } });
  const segment = result.data?.project.segment;
  const [rules, setRules] = useState<Rules>([]);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const update = useAction(UpdateSegment);
  // A form shown again from what is live, after its edits went into an approval request.
  const [generation, setGeneration] = useState(0);
  const remove = useAction(DeleteSegment, { notifyErrors: true });

  useEffect(() => {
    if (segment) setRules(rulesOf(segment));
  }, [segment?.version]);

  if (!segment) {
    return (
      <Page title={key}>
        <ErrorNote error={result.error} />
        {result.fetching && <Loading />}
      </Page>
    );
  }
  const others = (result.data?.project.segments.data ?? []).filter((s) => s.key !== segment.key);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const done = await update.run({
      id: segment.id,
      expectedVersion: segment.version,
      input: {
        name: String(form.get('name')),
        description: String(form.get('description')),
        included: keysOf(String(form.get('included'))),
        excluded: keysOf(String(form.get('excluded'))),
        rules,
      },
    });
    if (!done) return;
    if (announcePending(done.updateSegment.pendingChange)) {
      setGeneration((g) => g + 1);
      setRules(rulesOf(segment));
    } else notify.ok('Saved the segment.');
  };

  return (
    <Page
      title={segment.name}
      lead={
        <>
          <a href={`/p/${slug}/segments`}>Segments</a> / <code>{segment.key}</code> · version {segment.version}
        </>
      }
      actions={
        can('segment:write') && (
          <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
            Delete…
          </button>
        )
      }
    >
      <form class="stack" onSubmit={submit} key={`${segment.version}-${generation}`}>
        <div class="grid-2">
          <label>
            Name
            <input name="name" defaultValue={segment.name} required disabled={readOnly} />
          </label>
          <label>
            Description
            <input name="description" defaultValue={segment.description} disabled={readOnly} />
          </label>
          <label>
            Always included (context keys)
            <textarea name="included" rows={3} defaultValue={segment.included.join(', ')} disabled={readOnly} />
          </label>
          <label>
            Always excluded (context keys)
            <textarea name="excluded" rows={3} defaultValue={segment.excluded.join(', ')} disabled={readOnly} />
          </label>
        </div>
        <section aria-labelledby="segment-rules">
          <h2 id="segment-rules">Rules</h2>
          <p class="muted">A context matching any rule is a member (included keys win over excluded ones).</p>
          <ol class="rules">
            {rules.map((rule, i) => (
              <li class="rule" key={rule.id ?? `new-${i}`} aria-label={`Rule ${i + 1}`}>
                <header class="rule-header">
                  <h3>Rule {i + 1}</h3>
                  {!readOnly && (
                    <button
                      type="button"
                      class="small danger"
                      onClick={() => setRules(rules.filter((_, j) => j !== i))}
                    >
                      Delete rule {i + 1}
                    </button>
                  )}
                </header>
                {rule.clauses.map((clause, ci) => (
                  <ClauseEditor
                    key={ci}
                    clause={clause}
                    index={ci}
                    segments={others}
                    readOnly={readOnly}
                    onChange={(next) =>
                      setRules(
                        rules.map((r, j) =>
                          j === i ? { ...r, clauses: r.clauses.map((c, k) => (k === ci ? next : c)) } : r,
                        ),
                      )
                    }
                    onRemove={() =>
                      setRules(
                        rules.map((r, j) => (j === i ? { ...r, clauses: r.clauses.filter((_, k) => k !== ci) } : r)),
                      )
                    }
                  />
                ))}
                {!readOnly && (
                  <button
                    type="button"
                    class="small"
                    onClick={() =>
                      setRules(
                        rules.map((r, j) =>
                          j === i
                            ? { ...r, clauses: [...r.clauses, { attribute: '', op: 'in', negate: false, values: [] }] }
                            : r,
                        ),
                      )
                    }
                  >
                    Add condition
                  </button>
                )}
              </li>
            ))}
          </ol>
          {!readOnly && (
            <button
              type="button"
              onClick={() =>
                setRules([...rules, { clauses: [{ attribute: '', op: 'in', negate: false, values: [] }] }])
              }
            >
              Add rule
            </button>
          )}
        </section>
        <ErrorNote error={update.error} />
        {errorCode(update.error) === 'CONFLICT' && (
          <p class="muted">Someone saved this segment first: reload to see their change.</p>
        )}
        {!readOnly && (
          <div class="actions">
            <button type="submit" class="primary" disabled={update.fetching}>
              Save segment
            </button>
          </div>
        )}
      </form>
      <Confirm
        open={confirmDelete}
        title={`Delete ${segment.key}?`}
        confirmLabel="Delete segment"
        danger
        busy={remove.fetching}
        onCancel={() => setConfirmDelete(false)}
        onConfirm={async () => {
          const done = await remove.run({ id: segment.id });
          setConfirmDelete(false);
          if (done) location.route(`/p/${slug}/segments`);
        }}
      >
        <p>The server refuses while a flag's rules still use the segment.</p>
      </Confirm>
    </Page>
  );
}
