import { useState } from 'preact/hooks';
import type { ResultOf } from '../../graphql/index.ts';
import { Confirm, Dialog } from '../../ui/Dialog.tsx';
import { useAction } from '../../ui/mutation.ts';
import { notify } from '../../ui/notices.tsx';
import { when } from '../../ui/Page.tsx';
import { ShownOnce } from '../../ui/ShownOnce.tsx';
import { Switch } from '../../ui/Switch.tsx';
import {
  DeleteWebhook,
  RotateWebhookSecret,
  SendWebhookTest,
  UpdateWebhook,
  type WebhookChoicesQuery,
  type WebhookFields,
} from './documents.ts';
import { WebhookForm } from './WebhookForm.tsx';

export type WebhookRow = ResultOf<typeof WebhookFields>;
type Choices = ResultOf<typeof WebhookChoicesQuery>;

const OVERLAP = [
  [0, 'stops at once'],
  [60, 'keeps signing for 1 hour'],
  [1440, 'keeps signing for 24 hours'],
  [4320, 'keeps signing for 3 days'],
  [10080, 'keeps signing for 7 days'],
] as const;

/** Names for the projects and environments a webhook is narrowed to. */
function scopeOf(webhook: WebhookRow, choices: Choices) {
  const projects = new Map(choices.projects.data.map((p) => [p.id, p.name]));
  const environments = new Map(
    choices.projects.data.flatMap((p) => p.environments.map((e) => [e.id, `${p.name} / ${e.name}`] as const)),
  );
  return {
    projects: webhook.projectIds?.length
      ? webhook.projectIds.map((id) => projects.get(id) ?? id).join(', ')
      : 'every project',
    environments: webhook.environmentIds?.length
      ? webhook.environmentIds.map((id) => environments.get(id) ?? id).join(', ')
      : 'every environment',
  };
}

/** A webhook: where it sends what, whether it is on (or why the server turned it off), and what may be done with it. */
export function WebhookCard(props: {
  webhook: WebhookRow;
  choices: Choices;
  headingLink?: string;
  onDeleted?: () => void;
}) {
  const w = props.webhook;
  const [editing, setEditing] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [overlap, setOverlap] = useState(1440);
  const [secret, setSecret] = useState<string | null>(null);
  const update = useAction(UpdateWebhook);
  const toggle = useAction(UpdateWebhook, { notifyErrors: true });
  const rotate = useAction(RotateWebhookSecret, { notifyErrors: true });
  const remove = useAction(DeleteWebhook, { notifyErrors: true, success: 'Webhook deleted.' });
  const test = useAction(SendWebhookTest, { notifyErrors: true });
  const scope = scopeOf(w, props.choices);

  const sendTest = async () => {
    const data = await test.run({ id: w.id });
    if (!data) return;
    const d = data.sendWebhookTest;
    const latency = d.attemptLog.at(-1)?.latencyMs;
    const answer = d.lastStatusCode
      ? `answered ${d.lastStatusCode}`
      : `did not answer (${d.lastError ?? 'no response'})`;
    const text = `Test ping ${answer}${latency !== undefined ? ` in ${latency} ms` : ''}.`;
    if (d.status === 'DELIVERED') notify.ok(text);
    else notify.error(text);
  };

  return (
    <article class="card webhook" aria-labelledby={`webhook-${w.id}`}>
      <header class="section-head">
        <h2 id={`webhook-${w.id}`} class="webhook-url">
          {props.headingLink ? <a href={props.headingLink}>{w.url}</a> : w.url}
        </h2>
        <div class="actions">
          <Switch
            checked={w.active}
            label={`${w.url} active`}
            busy={toggle.fetching}
            onChange={(active) => void toggle.run({ id: w.id, input: { active } })}
          />
        </div>
      </header>
      {w.description && <p>{w.description}</p>}
      {w.disabledAt && (
        <p class="warning" role="note">
          Turned off by the server {when(w.disabledAt)}: {w.disabledReason ?? 'its deliveries failed for too long'}. Fix
          the receiver, then turn it on again: its pending deliveries are sent, oldest first.
        </p>
      )}
      {!w.disabledAt && w.failingSince && (
        <p class="warning" role="note">
          Every attempt has failed since {when(w.failingSince)}. After a day of failures the server turns it off.
        </p>
      )}
      <dl class="kv">
        <div>
          <dt>Events</dt>
          <dd class="scopes">
            {w.eventTypes.map((t) => (
              <span class="badge" key={t}>
                {t}
              </span>
            ))}
          </dd>
        </div>
        <div>
          <dt>Projects</dt>
          <dd>{scope.projects}</dd>
        </div>
        <div>
          <dt>Environments</dt>
          <dd>{scope.environments}</dd>
        </div>
        {w.previousSecretExpiresAt && (
          <div>
            <dt>Previous secret</dt>
            <dd>still signs until {when(w.previousSecretExpiresAt)}</dd>
          </div>
        )}
      </dl>
      <div class="actions">
        {props.headingLink && (
          <a href={props.headingLink} aria-label={`Delivery log of ${w.url}`}>
            Delivery log
          </a>
        )}
        <button type="button" class="small" disabled={test.fetching} onClick={() => void sendTest()}>
          Send test ping
        </button>
        <button type="button" class="small" onClick={() => setEditing(true)}>
          Edit…
        </button>
        <button type="button" class="small" onClick={() => setRotating(true)}>
          Rotate secret…
        </button>
        <button type="button" class="small danger" onClick={() => setDeleting(true)}>
          Delete…
        </button>
      </div>
      <Dialog open={editing} title={`Edit ${w.url}`} onClose={() => setEditing(false)}>
        <WebhookForm
          initial={{
            url: w.url,
            description: w.description,
            eventTypes: w.eventTypes,
            projectIds: w.projectIds ?? [],
            environmentIds: w.environmentIds ?? [],
          }}
          choices={props.choices}
          submitLabel="Save webhook"
          busy={update.fetching}
          error={update.error}
          onCancel={() => setEditing(false)}
          onSubmit={async (draft) => {
            if (await update.run({ id: w.id, input: draft })) {
              notify.ok('Webhook saved.');
              setEditing(false);
            }
          }}
        />
      </Dialog>
      <Confirm
        open={rotating}
        title="Rotate the signing secret?"
        confirmLabel="Rotate secret"
        busy={rotate.fetching}
        onCancel={() => setRotating(false)}
        onConfirm={async () => {
          const data = await rotate.run({ id: w.id, overlapMinutes: overlap });
          setRotating(false);
          if (data) setSecret(data.rotateWebhookSecret.secret);
        }}
      >
        <p>
          A new secret signs every delivery from now on. During the overlap each delivery carries two signatures in its{' '}
          <code>webhook-signature</code> header, one per secret, so the receiver can switch to the new secret without
          missing a delivery.
        </p>
        <label>
          The current secret
          <select value={String(overlap)} onChange={(e) => setOverlap(Number(e.currentTarget.value))}>
            {OVERLAP.map(([m, label]) => (
              <option key={m} value={String(m)}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </Confirm>
      <Confirm
        open={deleting}
        title={`Delete the webhook to ${w.url}?`}
        confirmLabel="Delete webhook"
        danger
        busy={remove.fetching}
        onCancel={() => setDeleting(false)}
        onConfirm={async () => {
          const done = await remove.run({ id: w.id });
          setDeleting(false);
          if (done) props.onDeleted?.();
        }}
      >
        <p>Its delivery log goes with it, and deliveries still pending are dropped.</p>
      </Confirm>
      <SigningSecret secret={secret} onClose={() => setSecret(null)} />
    </article>
  );
}

/** A new signing secret, shown once. */
export function SigningSecret({ secret, onClose }: { secret: string | null; onClose: () => void }) {
  return (
    <ShownOnce
      title="Copy the signing secret now"
      values={secret ? [{ value: secret, label: 'Signing secret' }] : null}
      onClose={onClose}
    >
      <p>
        This is the only time the secret is shown. Give it to the receiver, which verifies each delivery's{' '}
        <code>webhook-signature</code> with it (Standard Webhooks).
      </p>
    </ShownOnce>
  );
}
