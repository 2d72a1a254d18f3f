import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';

const SetEnvironmentApproval = graphql(`
  mutation SetEnvironmentApproval($environmentId: ID!, $requiresApproval: Boolean!, $minApprovals: Int) {
    setEnvironmentApproval(environmentId: $environmentId, requiresApproval: $requiresApproval, minApprovals: $minApprovals) {
      id requiresApproval minApprovals
    }
  }
`);

interface Env {
  id: string;
  name: string;
  requiresApproval: boolean;
  minApprovals: number;
}

/** Whether changes here wait for reviewers, and how many: set by reviewers (admins), read by everyone. */
export function ApprovalSettings({ environment, canManage }: { environment: Env; canManage: boolean }) {
  const [required, setRequired] = useState(environment.requiresApproval);
  const [min, setMin] = useState(environment.minApprovals);
  const save = useAction(SetEnvironmentApproval, { success: `Saved the approval settings of ${environment.name}.` });
  const dirty = required !== environment.requiresApproval || min !== environment.minApprovals;
  const summary = environment.requiresApproval
    ? `Changes wait for ${environment.minApprovals} approval${environment.minApprovals === 1 ? '' : 's'} from reviewers other than their author (the kill switch never waits).`
    : 'Changes apply at once.';
  const headingId = `approval-${environment.id}`;
  return (
    <section aria-labelledby={headingId}>
      <h3 id={headingId}>Approvals</h3>
      {!canManage ? (
        <p data-approval={environment.requiresApproval ? 'required' : 'none'}>{summary}</p>
      ) : (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void save.run({ environmentId: environment.id, requiresApproval: required, minApprovals: min });
          }}
        >
          <label class="check">
            <input type="checkbox" checked={required} onChange={(e) => setRequired(e.currentTarget.checked)} /> Require
            approval for changes in {environment.name}
          </label>
          <label>
            Approvals needed
            <input
              type="number"
              min={1}
              max={10}
              value={min}
              disabled={!required}
              onInput={(e) => setMin(Number(e.currentTarget.value) || 1)}
            />
          </label>
          <button type="submit" disabled={!dirty || save.fetching}>
            Save approvals
          </button>
          <ErrorNote error={save.error} />
          <p class="muted">{summary}</p>
        </form>
      )}
    </section>
  );
}
