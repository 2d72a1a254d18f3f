import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { Confirm } from '../../ui/Dialog.tsx';
import { useAction } from '../../ui/mutation.ts';
import { notify } from '../../ui/notices.tsx';
import { PendingAnswer } from '../approvals/documents.ts';
import { announcePending } from '../approvals/pending.tsx';

const PromoteMutation = graphql(
  `
  mutation PromoteFlag($flagId: ID!, $from: ID!, $to: [ID!]!) {
    promoteFlag(flagId: $flagId, fromEnvironmentId: $from, toEnvironmentIds: $to) {
      on version environment { id key name }
      pendingChange { ...PendingAnswer }
    }
  }
`,
  [PendingAnswer],
);

interface Env {
  id: string;
  key: string;
  name: string;
}

/** Copies this environment's targeting to others, all or nothing. */
export function Promote(props: { flag: { id: string; key: string }; from: Env; environments: Env[] }) {
  const targets = props.environments.filter((e) => e.id !== props.from.id);
  const [chosen, setChosen] = useState<string[]>([]);
  const [asking, setAsking] = useState(false);
  const promote = useAction(PromoteMutation, { notifyErrors: true });
  const names = targets.filter((e) => chosen.includes(e.id)).map((e) => e.name);
  return (
    <section class="card" aria-labelledby="promote-title">
      <h3 id="promote-title">Promote the targeting of {props.from.name}</h3>
      <fieldset class="row">
        <legend class="visually-hidden">Environments to copy to</legend>
        {targets.map((e) => (
          <label key={e.id} class="check">
            <input
              type="checkbox"
              checked={chosen.includes(e.id)}
              onChange={(ev) =>
                setChosen(ev.currentTarget.checked ? [...chosen, e.id] : chosen.filter((id) => id !== e.id))
              }
            />
            {e.name}
          </label>
        ))}
        <button type="button" disabled={chosen.length === 0} onClick={() => setAsking(true)}>
          Promote…
        </button>
      </fieldset>
      <Confirm
        open={asking}
        title={`Promote ${props.flag.key}?`}
        confirmLabel={`Copy to ${names.join(', ')}`}
        busy={promote.fetching}
        onCancel={() => setAsking(false)}
        onConfirm={async () => {
          const done = await promote.run({ flagId: props.flag.id, from: props.from.id, to: chosen });
          setAsking(false);
          if (!done) return;
          setChosen([]);
          // Each environment that requires approval waits on a request of its own.
          const applied = done.promoteFlag.filter((s) => !announcePending(s.pendingChange));
          if (applied.length > 0) notify.ok(`Promoted to ${applied.map((s) => s.environment.name).join(', ')}.`);
        }}
      >
        <p>
          The targeting of {props.from.name} (on/off, targets, rules, default) replaces the targeting of{' '}
          {names.join(', ')}.
        </p>
      </Confirm>
    </section>
  );
}
