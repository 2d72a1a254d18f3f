import type { ResultOf } from '../../graphql/index.ts';
import { useAction } from '../../ui/mutation.ts';
import { when } from '../../ui/Page.tsx';
import { RedeliverWebhook } from './documents.ts';
import type { WebhookDeliveriesQuery } from './WebhookDetail.tsx';

type Delivery = NonNullable<ResultOf<typeof WebhookDeliveriesQuery>['webhook']>['deliveries']['data'][number];

const STATUS_BADGE = { DELIVERED: 'badge ok', PENDING: 'badge warn', FAILED: 'badge danger' } as const;

/** One event sent to one endpoint: how its attempts went, what the receiver answered, and a way to send it again. */
function DeliveryItem({ delivery: d, onRedelivered }: { delivery: Delivery; onRedelivered: () => void }) {
  const redeliver = useAction(RedeliverWebhook, { notifyErrors: true, success: `${d.eventType} queued again.` });
  const last = d.attemptLog.at(-1);
  return (
    <li class="card delivery" aria-label={`${d.eventType} delivery, ${d.status.toLowerCase()}`} data-delivery={d.id}>
      <header class="section-head">
        <h3>
          <code>{d.eventType}</code> <span class={STATUS_BADGE[d.status]}>{d.status.toLowerCase()}</span>
        </h3>
        <span class="muted">{when(d.createdAt)}</span>
        <div class="actions">
          <button
            type="button"
            class="small"
            disabled={redeliver.fetching}
            onClick={async () => {
              if (await redeliver.run({ deliveryId: d.id })) onRedelivered();
            }}
          >
            Redeliver
          </button>
        </div>
      </header>
      <dl class="kv">
        <div>
          <dt>Attempts</dt>
          <dd>{d.attempts}</dd>
        </div>
        <div>
          <dt>Status code</dt>
          <dd data-field="status-code">{d.lastStatusCode ?? '—'}</dd>
        </div>
        <div>
          <dt>Latency</dt>
          <dd>{last ? `${last.latencyMs} ms` : '—'}</dd>
        </div>
        {d.deliveredAt && (
          <div>
            <dt>Delivered</dt>
            <dd>{when(d.deliveredAt)}</dd>
          </div>
        )}
        {d.nextAttemptAt && (
          <div>
            <dt>Next attempt</dt>
            <dd>{when(d.nextAttemptAt)}</dd>
          </div>
        )}
        <div>
          <dt>webhook-id</dt>
          <dd>
            <code>{d.eventId}</code>
          </dd>
        </div>
      </dl>
      {d.lastError && <p class="error-note">{d.lastError}</p>}
      <details>
        <summary>Attempts and payload</summary>
        <ol class="attempts">
          {d.attemptLog.map((a) => (
            <li key={a.attempt}>
              <span>
                Attempt {a.attempt} · {when(a.startedAt)} · {a.statusCode ? `answered ${a.statusCode}` : 'no answer'} in{' '}
                {a.latencyMs} ms
              </span>
              {a.error && <span class="error-note">{a.error}</span>}
              {a.responseBody && (
                <>
                  <span class="visually-hidden">Response (first KB):</span>
                  <pre class="response">{a.responseBody}</pre>
                </>
              )}
            </li>
          ))}
        </ol>
        <pre class="payload">{JSON.stringify(d.payload, null, 2)}</pre>
      </details>
    </li>
  );
}

export function DeliveryLog({ deliveries, onChanged }: { deliveries: Delivery[]; onChanged: () => void }) {
  if (deliveries.length === 0)
    return <p class="empty">No deliveries yet: send a test ping, or change something it hears.</p>;
  return (
    <ol class="history deliveries">
      {deliveries.map((d) => (
        <DeliveryItem key={d.id} delivery={d} onRedelivered={onChanged} />
      ))}
    </ol>
  );
}
