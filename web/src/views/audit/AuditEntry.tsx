import { when } from '../../ui/Page.tsx';
import { AuditDiff } from './AuditDiff.tsx';
import { type AuditEntryRow, type AuditNames, actorOf } from './entry.ts';

/**
 * One audit entry, the same in the audit log and in a flag's history: what was done, to what, by
 * whom, when and from where; the change in words, and field by field on request.
 */
export function AuditEntry(props: {
  entry: AuditEntryRow;
  names: AuditNames;
  /** Where the changed thing can be opened, when it still can. */
  link?: { href: string; label: string } | null;
  /** Narrows the view to this entry's resource. */
  onOnlyThis?: () => void;
}) {
  const e = props.entry;
  const environment = e.environmentId ? (props.names.environments.get(e.environmentId) ?? null) : null;
  return (
    <li class="card audit-entry" data-action={e.action} aria-label={`${e.action} ${when(e.createdAt)}`}>
      <header class="section-head">
        <h3>
          <code>{e.action}</code> {props.link && <a href={props.link.href}>{props.link.label}</a>}
        </h3>
        <span class="muted">
          <time dateTime={e.createdAt}>{when(e.createdAt)}</time> · {actorOf(e, props.names)}
          {environment && ` · ${environment}`}
        </span>
        {props.onOnlyThis && e.resourceId && (
          <div class="actions">
            <button type="button" class="small link" onClick={props.onOnlyThis}>
              Only this {e.resourceType.replace('_', ' ')}
            </button>
          </div>
        )}
      </header>
      {e.changes.length > 0 ? (
        <ul class="changes">
          {e.changes.map((line, i) => (
            <li key={i}>{line}</li>
          ))}
        </ul>
      ) : (
        // Nothing before and after to compare (a key created, a member added): what was recorded.
        <AuditDiff details={e.details} />
      )}
      <details>
        <summary>Details</summary>
        <dl class="kv">
          {e.seq !== null && (
            <div>
              <dt>Entry</dt>
              <dd>#{e.seq}</dd>
            </div>
          )}
          {e.requestId && (
            <div>
              <dt>Request id</dt>
              <dd>
                <code>{e.requestId}</code>
              </dd>
            </div>
          )}
          {e.clientIp && (
            <div>
              <dt>IP</dt>
              <dd>
                <code>{e.clientIp}</code>
              </dd>
            </div>
          )}
          {e.resourceId && (
            <div>
              <dt>{e.resourceType.replace('_', ' ')}</dt>
              <dd>
                <code>{e.resourceId}</code>
              </dd>
            </div>
          )}
        </dl>
        {e.changes.length > 0 && <AuditDiff details={e.details} />}
      </details>
    </li>
  );
}
