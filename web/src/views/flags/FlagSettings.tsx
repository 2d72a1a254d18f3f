import { useState } from 'preact/hooks';
import { graphql, type ResultOf } from '../../graphql/index.ts';
import { Confirm } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { notify } from '../../ui/notices.tsx';
import { PendingAnswer } from '../approvals/documents.ts';
import { announcePending } from '../approvals/pending.tsx';
import type { FlagDetailQuery } from './FlagDetail.tsx';
import { type FlagKind, formatValue, parseValue } from './values.ts';

const UpdateFlagMutation = graphql(`
  mutation UpdateFlag($id: ID!, $input: UpdateFlagInput!) {
    updateFlag(id: $id, input: $input) { id name description tags temporary clientSideAvailable variations { name value } }
  }
`);
const ArchiveFlag = graphql(
  `mutation ArchiveFlag($id: ID!) { archiveFlag(id: $id) { id archived pendingChange { ...PendingAnswer } } }`,
  [PendingAnswer],
);
const RestoreFlag = graphql(
  `mutation RestoreFlag($id: ID!) { restoreFlag(id: $id) { id archived pendingChange { ...PendingAnswer } } }`,
  [PendingAnswer],
);
const DeleteFlag = graphql(
  `mutation DeleteFlag($id: ID!) { deleteFlag(id: $id) { id pendingChange { ...PendingAnswer } } }`,
  [PendingAnswer],
);

type Flag = ResultOf<typeof FlagDetailQuery>['project']['flag'];

/** The flag itself: names, tags, lifecycle, its variations; archive, restore, delete. */
export function FlagSettings(props: { flag: Flag; canWrite: boolean; canDelete: boolean; onDeleted: () => void }) {
  const { flag } = props;
  const readOnly = !props.canWrite;
  const [variations, setVariations] = useState(
    flag.variations.map((v) => ({ name: v.name ?? '', value: formatValue(v.value) })),
  );
  const [problem, setProblem] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const update = useAction(UpdateFlagMutation, { success: 'Saved.' });
  const archive = useAction(ArchiveFlag, { notifyErrors: true });
  const restore = useAction(RestoreFlag, { notifyErrors: true });
  // Where an environment requires approval these wait as a request instead of applying.
  const onArchive = async () => {
    const done = await archive.run({ id: flag.id });
    if (done && !announcePending(done.archiveFlag.pendingChange)) notify.ok('Archived: the flag no longer evaluates.');
  };
  const onRestore = async () => {
    const done = await restore.run({ id: flag.id });
    if (done && !announcePending(done.restoreFlag.pendingChange)) notify.ok('Restored.');
  };
  const remove = useAction(DeleteFlag, { notifyErrors: true });

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setProblem(null);
    let values: { name: string | null; value: unknown }[];
    try {
      values = variations.map((v) => ({ name: v.name || null, value: parseValue(flag.kind as FlagKind, v.value) }));
    } catch (e) {
      setProblem((e as Error).message);
      return;
    }
    await update.run({
      id: flag.id,
      input: {
        name: String(form.get('name')),
        description: String(form.get('description')),
        tags: String(form.get('tags'))
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
        temporary: form.get('permanent') !== 'on',
        clientSideAvailable: form.get('clientSide') === 'on',
        variations: values,
      },
    });
  };

  return (
    <div class="stack">
      <form class="stack card" onSubmit={submit}>
        <label>
          Name
          <input name="name" defaultValue={flag.name} required disabled={readOnly} />
        </label>
        <label>
          Description
          <input name="description" defaultValue={flag.description} disabled={readOnly} />
        </label>
        <label>
          Tags (comma-separated)
          <input name="tags" defaultValue={flag.tags.join(', ')} disabled={readOnly} />
        </label>
        <label class="check">
          <input type="checkbox" name="permanent" defaultChecked={!flag.temporary} disabled={readOnly} /> Permanent
        </label>
        <label class="check">
          <input type="checkbox" name="clientSide" defaultChecked={flag.clientSideAvailable} disabled={readOnly} />{' '}
          Available to client-side SDKs
        </label>
        <fieldset>
          <legend>Variations ({flag.kind})</legend>
          <p class="muted">
            Rules and targets refer to variations by position: the server refuses a change that breaks them.
          </p>
          {variations.map((v, i) => (
            <div class="row" key={i}>
              <span class="badge">#{i}</span>
              <label>
                <span class="visually-hidden">Name of variation {i}</span>
                <input
                  placeholder="Name"
                  value={v.name}
                  disabled={readOnly}
                  onInput={(e) =>
                    setVariations(variations.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value } : x)))
                  }
                />
              </label>
              <label class="grow">
                <span class="visually-hidden">Value of variation {i}</span>
                <input
                  value={v.value}
                  disabled={readOnly || flag.kind === 'boolean'}
                  onInput={(e) =>
                    setVariations(variations.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)))
                  }
                />
              </label>
              {!readOnly && flag.kind !== 'boolean' && variations.length > 2 && (
                <button type="button" class="small" onClick={() => setVariations(variations.filter((_, j) => j !== i))}>
                  Remove
                </button>
              )}
            </div>
          ))}
          {!readOnly && flag.kind !== 'boolean' && (
            <button type="button" class="small" onClick={() => setVariations([...variations, { name: '', value: '' }])}>
              Add variation
            </button>
          )}
        </fieldset>
        <ErrorNote error={problem ?? update.error} />
        {!readOnly && (
          <div class="actions">
            <button type="submit" class="primary" disabled={update.fetching}>
              Save settings
            </button>
          </div>
        )}
      </form>
      {(props.canWrite || props.canDelete) && (
        <section class="card danger-zone" aria-labelledby="lifecycle">
          <h3 id="lifecycle">Lifecycle</h3>
          <p class="muted">
            Created {new Date(flag.createdAt).toLocaleString()}
            {flag.archivedAt && ` · archived ${new Date(flag.archivedAt).toLocaleString()}`}
          </p>
          <div class="actions">
            {props.canWrite &&
              (flag.archived ? (
                <button type="button" onClick={() => void onRestore()}>
                  Restore
                </button>
              ) : (
                <button type="button" onClick={() => void onArchive()}>
                  Archive
                </button>
              ))}
            {props.canDelete && (
              <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
                Delete…
              </button>
            )}
          </div>
        </section>
      )}
      <Confirm
        open={confirmDelete}
        title={`Delete ${flag.key}?`}
        confirmLabel="Delete for good"
        danger
        busy={remove.fetching}
        onCancel={() => setConfirmDelete(false)}
        onConfirm={async () => {
          const done = await remove.run({ id: flag.id });
          setConfirmDelete(false);
          if (done && !announcePending(done.deleteFlag.pendingChange)) props.onDeleted();
        }}
      >
        <p>The flag and its targeting in every environment are deleted. SDKs then get their default value.</p>
      </Confirm>
    </div>
  );
}
