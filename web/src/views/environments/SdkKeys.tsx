import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { Confirm, Dialog, FormActions } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { when } from '../../ui/Page.tsx';
import { ShownOnce } from '../../ui/ShownOnce.tsx';
import type { EnvironmentRow } from './Environments.tsx';

const CreateSdkKey = graphql(`
  mutation CreateSdkKey($environmentId: ID!, $kind: SdkKeyKind!, $name: String) {
    createSdkKey(environmentId: $environmentId, kind: $kind, name: $name) { value key { id masked kind name } }
  }
`);
const RevokeSdkKey = graphql(`
  mutation RevokeSdkKey($id: ID!, $graceMinutes: Int!) {
    revokeSdkKey(id: $id, graceMinutes: $graceMinutes) { id active revokedAt expiresAt }
  }
`);
const RotateServerKeys = graphql(`
  mutation RotateServerKeys($environmentId: ID!, $graceMinutes: Int!) {
    rotateServerKeys(environmentId: $environmentId, graceMinutes: $graceMinutes) { value key { id masked kind name } }
  }
`);

const GRACE = [
  [0, 'at once'],
  [15, 'in 15 minutes'],
  [30, 'in 30 minutes'],
  [60, 'in 1 hour'],
  [240, 'in 4 hours'],
  [720, 'in 12 hours'],
  [1440, 'in 24 hours'],
] as const;

type Key = NonNullable<EnvironmentRow['sdkKeys']>[number];

function GraceSelect({ value, onChange }: { value: number; onChange: (v: number) => void }) {
  return (
    <label>
      The old key stops working
      <select value={String(value)} onChange={(e) => onChange(Number(e.currentTarget.value))}>
        {GRACE.map(([m, label]) => (
          <option key={m} value={String(m)}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Server and mobile keys: created and shown once, revoked with a grace period, rotated all at once. */
export function SdkKeys({
  environment,
  keys,
  canManage,
}: {
  environment: EnvironmentRow;
  keys: Key[];
  canManage: boolean;
}) {
  const [shown, setShown] = useState<{ value: string; masked: string }[] | null>(null);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<Key | null>(null);
  const [rotating, setRotating] = useState(false);
  const [grace, setGrace] = useState(60);
  const create = useAction(CreateSdkKey);
  const revoke = useAction(RevokeSdkKey, { notifyErrors: true, success: 'Key revoked.' });
  const rotate = useAction(RotateServerKeys, { notifyErrors: true });
  const listed = keys.filter((k) => k.kind !== 'CLIENT');

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const data = await create.run({
      environmentId: environment.id,
      kind: form.get('kind') === 'MOBILE' ? 'MOBILE' : 'SERVER',
      name: String(form.get('name') || '') || null,
    });
    if (data) {
      setCreating(false);
      setShown([{ value: data.createSdkKey.value, masked: data.createSdkKey.key.masked }]);
    }
  };

  return (
    <div class="sdk-keys">
      <div class="section-head">
        <h3>SDK keys</h3>
        {canManage && (
          <div class="actions">
            <button type="button" class="small" onClick={() => setCreating(true)}>
              New key
            </button>
            <button
              type="button"
              class="small"
              onClick={() => setRotating(true)}
              disabled={!listed.some((k) => k.kind === 'SERVER' && k.active && !k.revokedAt)}
            >
              Rotate all server keys…
            </button>
          </div>
        )}
      </div>
      {listed.length === 0 ? (
        <p class="muted">No server or mobile keys.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Kind</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                {canManage && (
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {listed.map((k) => (
                <tr key={k.id}>
                  <th scope="row">
                    {k.name} <code>{k.masked}</code>
                    <div class="muted">
                      created {when(k.createdAt)}
                      {k.createdBy && ` by ${k.createdBy.name}`}
                    </div>
                  </th>
                  <td>{k.kind.toLowerCase()}</td>
                  <td>{when(k.lastUsedAt)}</td>
                  <td>
                    {!k.revokedAt ? (
                      <span class="badge ok">active</span>
                    ) : k.active ? (
                      <span class="badge warn">revoked, works until {when(k.expiresAt)}</span>
                    ) : (
                      <span class="badge">revoked</span>
                    )}
                  </td>
                  {canManage && (
                    <td>
                      {!k.revokedAt && (
                        <button type="button" class="small danger" onClick={() => setRevoking(k)}>
                          Revoke…
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Dialog open={creating} title={`New SDK key for ${environment.name}`} onClose={() => setCreating(false)}>
        <form class="stack" onSubmit={submit}>
          <label>
            Kind
            <select name="kind">
              <option value="SERVER">Server (secret, backend code only)</option>
              <option value="MOBILE">Mobile (shipped in apps)</option>
            </select>
          </label>
          <label>
            Name
            <input name="name" placeholder="checkout-service" />
          </label>
          <ErrorNote error={create.error} />
          <FormActions submitLabel="Create key" busy={create.fetching} onCancel={() => setCreating(false)} />
        </form>
      </Dialog>
      <ShownOnce
        title="Copy the new key now"
        values={shown?.map((s) => ({ value: s.value, label: `New key ${s.masked}` })) ?? null}
        onClose={() => setShown(null)}
      >
        <p>This is the only time the full key is shown. Vexil keeps only its hash.</p>
      </ShownOnce>
      <Confirm
        open={revoking !== null}
        title={`Revoke ${revoking?.masked ?? ''}?`}
        confirmLabel="Revoke key"
        danger
        busy={revoke.fetching}
        onCancel={() => setRevoking(null)}
        onConfirm={async () => {
          if (revoking) await revoke.run({ id: revoking.id, graceMinutes: grace });
          setRevoking(null);
        }}
      >
        <GraceSelect value={grace} onChange={setGrace} />
      </Confirm>
      <Confirm
        open={rotating}
        title={`Rotate every server key of ${environment.name}?`}
        confirmLabel="Rotate"
        danger
        busy={rotate.fetching}
        onCancel={() => setRotating(false)}
        onConfirm={async () => {
          const data = await rotate.run({ environmentId: environment.id, graceMinutes: grace });
          setRotating(false);
          if (data) setShown(data.rotateServerKeys.map((c) => ({ value: c.value, masked: c.key.masked })));
        }}
      >
        <p>Each active server key is replaced by a new one; the new keys are shown once.</p>
        <GraceSelect value={grace} onChange={setGrace} />
      </Confirm>
    </div>
  );
}
