import { useQuery } from '@urql/preact';
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { graphql } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { Loading, Page } from '../../ui/Page.tsx';
import { Pager } from '../../ui/Pager.tsx';
import { DeliveryLog } from './DeliveryLog.tsx';
import { WebhookChoicesQuery, WebhookFields } from './documents.ts';
import { WebhookCard } from './WebhookCard.tsx';

const PAGE = 25;
/** Deliveries are made in the background: the log is read again this often while it is open. */
const POLL_MS = 4000;

export const WebhookDeliveriesQuery = graphql(
  `
  query WebhookDeliveries($id: ID!, $status: WebhookDeliveryStatus, $offset: Int, $limit: Int) {
    webhook(id: $id) {
      ...WebhookFields
      deliveries(status: $status, offset: $offset, limit: $limit) {
        total hasMore offset
        data {
          id eventId eventType status attempts createdAt deliveredAt nextAttemptAt lastStatusCode lastError payload
          attemptLog { attempt startedAt statusCode latencyMs error responseBody }
        }
      }
    }
  }
`,
  [WebhookFields],
);

/** One webhook and its delivery log, newest first. */
export function WebhookDetail({ id }: { id: string }) {
  const location = useLocation();
  const [status, setStatus] = useState<'' | 'PENDING' | 'DELIVERED' | 'FAILED'>('');
  const [offset, setOffset] = useState(0);
  const [result, reexecute] = useQuery({
    query: WebhookDeliveriesQuery,
    variables: { id, status: status || null, offset, limit: PAGE },
  });
  const [choices] = useQuery({ query: WebhookChoicesQuery });
  const refetch = () => reexecute({ requestPolicy: 'network-only' });
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') refetch();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [id, status, offset]);
  const webhook = result.data?.webhook;
  const page = webhook?.deliveries;
  return (
    <Page
      title="Webhook"
      lead={
        <>
          <a href="/webhooks">Webhooks</a> / delivery log
        </>
      }
    >
      <ErrorNote error={result.error ?? choices.error} />
      {!webhook || !choices.data || !page ? (
        (result.fetching || choices.fetching) && <Loading />
      ) : (
        <>
          <WebhookCard webhook={webhook} choices={choices.data} onDeleted={() => location.route('/webhooks')} />
          <div class="section-head">
            <h2>Deliveries</h2>
            <div class="actions filters">
              <label>
                Status
                <select
                  value={status}
                  onChange={(e) => {
                    setStatus(e.currentTarget.value as typeof status);
                    setOffset(0);
                  }}
                >
                  <option value="">All</option>
                  <option value="PENDING">Pending</option>
                  <option value="DELIVERED">Delivered</option>
                  <option value="FAILED">Failed test pings</option>
                </select>
              </label>
              <button type="button" class="small" onClick={refetch}>
                Refresh
              </button>
            </div>
          </div>
          <DeliveryLog deliveries={page.data} onChanged={refetch} />
          <Pager page={page} size={PAGE} onOffset={setOffset} />
        </>
      )}
    </Page>
  );
}
