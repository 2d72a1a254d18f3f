/**
 * What an audit entry changed, readably: for entries with `before` and `after`, one line per
 * changed path (old value struck out, new value after it); otherwise the details as key: value.
 */
type Json = unknown;

function flatten(value: Json, prefix: string, out: Map<string, string>) {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    if (entries.length === 0) out.set(prefix, Array.isArray(value) ? '[]' : '{}');
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, JSON.stringify(value));
  }
}

export function diff(before: Json, after: Json): { path: string; from?: string; to?: string }[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(before, '', a);
  flatten(after, '', b);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths.filter((p) => a.get(p) !== b.get(p)).map((path) => ({ path, from: a.get(path), to: b.get(path) }));
}

export function AuditDiff({ details }: { details: Json }) {
  if (!details || typeof details !== 'object') return null;
  const { before, after, ...rest } = details as Record<string, Json>;
  const changes = before !== undefined || after !== undefined ? diff(before ?? {}, after ?? {}) : [];
  const restLines = Object.entries(rest);
  return (
    <div class="audit-details">
      {restLines.length > 0 && (
        <dl class="kv">
          {restLines.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>
                <code>{typeof v === 'string' ? v : JSON.stringify(v)}</code>
              </dd>
            </div>
          ))}
        </dl>
      )}
      {changes.length > 0 && (
        <table class="diff">
          <caption class="visually-hidden">Changed values</caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
            </tr>
          </thead>
          <tbody>
            {changes.map((c) => (
              <tr key={c.path}>
                <th scope="row">
                  <code>{c.path}</code>
                </th>
                <td class="removed">{c.from !== undefined ? <del>{c.from}</del> : <span class="muted">—</span>}</td>
                <td class="added">{c.to !== undefined ? <ins>{c.to}</ins> : <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
