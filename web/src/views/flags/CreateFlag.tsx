import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { Dialog, FormActions } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { type FlagKind, parseValue } from './values.ts';

const CreateFlagMutation = graphql(`
  mutation CreateFlag($projectId: ID!, $input: CreateFlagInput!) {
    createFlag(projectId: $projectId, input: $input) { id key }
  }
`);

const DEFAULTS: Record<FlagKind, [string, string]> = {
  boolean: ['true', 'false'],
  string: ['on', 'off'],
  number: ['1', '0'],
  json: ['{"enabled": true}', '{"enabled": false}'],
};

export function CreateFlag(props: { projectId: string; onClose: () => void; onCreated: (key: string) => void }) {
  const create = useAction(CreateFlagMutation);
  const [kind, setKind] = useState<FlagKind>('boolean');
  const [variations, setVariations] = useState<string[]>([...DEFAULTS.boolean]);
  const [problem, setProblem] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setProblem(null);
    let values: unknown[];
    try {
      values = variations.map((v) => parseValue(kind, v));
    } catch (e) {
      setProblem((e as Error).message);
      return;
    }
    const tags = String(form.get('tags') ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const data = await create.run({
      projectId: props.projectId,
      input: {
        key: String(form.get('key')),
        name: String(form.get('name') || '') || null,
        description: String(form.get('description') ?? ''),
        kind,
        tags,
        temporary: form.get('permanent') !== 'on',
        clientSideAvailable: form.get('clientSide') === 'on',
        variations: values.map((value) => ({ value })),
      },
    });
    if (data) props.onCreated(data.createFlag.key);
  };

  return (
    <Dialog open title="New flag" onClose={props.onClose}>
      <form class="stack" onSubmit={submit}>
        <label>
          Key
          <input
            name="key"
            required
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
            autocomplete="off"
            placeholder="new-checkout"
          />
        </label>
        <label>
          Name
          <input name="name" placeholder="Defaults to the key" />
        </label>
        <label>
          Description
          <input name="description" />
        </label>
        <label>
          Kind
          <select
            value={kind}
            onChange={(e) => {
              const next = e.currentTarget.value as FlagKind;
              setKind(next);
              setVariations([...DEFAULTS[next]]);
            }}
          >
            <option value="boolean">Boolean</option>
            <option value="string">String</option>
            <option value="number">Number</option>
            <option value="json">JSON</option>
          </select>
        </label>
        <fieldset>
          <legend>Variations</legend>
          {variations.map((v, i) => (
            <div class="row" key={i}>
              <label class="grow">
                <span class="visually-hidden">Variation {i + 1}</span>
                <input
                  value={v}
                  disabled={kind === 'boolean'}
                  onInput={(e) => setVariations(variations.map((x, j) => (j === i ? e.currentTarget.value : x)))}
                />
              </label>
              {kind !== 'boolean' && variations.length > 2 && (
                <button
                  type="button"
                  aria-label={`Remove variation ${i + 1}`}
                  onClick={() => setVariations(variations.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              )}
            </div>
          ))}
          {kind !== 'boolean' && (
            <button type="button" onClick={() => setVariations([...variations, ''])}>
              Add variation
            </button>
          )}
        </fieldset>
        <label>
          Tags (comma-separated)
          <input name="tags" />
        </label>
        <label class="check">
          <input type="checkbox" name="permanent" /> Permanent (not meant to be removed)
        </label>
        <label class="check">
          <input type="checkbox" name="clientSide" /> Available to client-side SDKs
        </label>
        <ErrorNote error={problem ?? create.error} />
        <FormActions submitLabel="Create flag" busy={create.fetching} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}
