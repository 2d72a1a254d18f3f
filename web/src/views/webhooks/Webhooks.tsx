import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { useCan } from '../../session/viewer.tsx';
import { Dialog } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Loading, Page } from '../../ui/Page.tsx';
import { CreateWebhook, WebhookChoicesQuery, WebhookFields } from './documents.ts';
import { SigningSecret, WebhookCard } from './WebhookCard.tsx';
import { WebhookForm } from './WebhookForm.tsx';

const WebhooksQuery = graphql(
  `
  query Webhooks {
    webhooks(limit: 100) { total data { ...WebhookFields } }
  }
`,
  [WebhookFields],
);

/** The organization's webhooks (webhook:manage): each one's events, narrowing, state and secret. */
export function Webhooks() {
  // Only webhook:manage reads them (the link is not offered otherwise; an address typed in gets the server's refusal).
  const canManage = useCan()('webhook:manage');
  const [result, reexecute] = useQuery({ query: WebhooksQuery });
  const [choices] = useQuery({ query: WebhookChoicesQuery });
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const create = useAction(CreateWebhook);
  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  const list = result.data?.webhooks.data;
  return (
    <Page
      title="Webhooks"
      lead="Vexil signs and sends each change to these receivers (Standard Webhooks), in order, retrying until they answer 2xx."
      actions={
        canManage && (
          <button type="button" class="primary" onClick={() => setCreating(true)} disabled={!choices.data}>
            New webhook
          </button>
        )
      }
    >
      <ErrorNote error={result.error ?? choices.error} />
      {!list || !choices.data ? (
        (result.fetching || choices.fetching) && <Loading />
      ) : list.length === 0 ? (
        <p class="empty">No webhooks yet.</p>
      ) : (
        list.map((w) => (
          <WebhookCard
            key={w.id}
            webhook={w}
            choices={choices.data!}
            headingLink={`/webhooks/${w.id}`}
            onDeleted={refetch}
          />
        ))
      )}
      {choices.data && (
        <Dialog open={creating} title="New webhook" onClose={() => setCreating(false)}>
          <WebhookForm
            initial={{ url: '', description: '', eventTypes: ['flag.*'], projectIds: [], environmentIds: [] }}
            choices={choices.data}
            submitLabel="Create webhook"
            busy={create.fetching}
            error={create.error}
            onCancel={() => setCreating(false)}
            onSubmit={async (draft) => {
              const data = await create.run({
                input: {
                  ...draft,
                  projectIds: draft.projectIds.length ? draft.projectIds : null,
                  environmentIds: draft.environmentIds.length ? draft.environmentIds : null,
                },
              });
              if (!data) return;
              setCreating(false);
              setSecret(data.createWebhook.secret);
              refetch();
            }}
          />
        </Dialog>
      )}
      <SigningSecret secret={secret} onClose={() => setSecret(null)} />
    </Page>
  );
}
