import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';

/** A view's heading, its actions, and the document title. */
export function Page(props: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
  lead?: ComponentChildren;
}) {
  useEffect(() => {
    document.title = `${props.title} · Vexil`;
  }, [props.title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <div>
          <h1 id="page-title">{props.title}</h1>
          {props.lead && <p class="lead">{props.lead}</p>}
        </div>
        {props.actions && <div class="actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

export function Loading() {
  return (
    <p class="muted" role="status">
      Loading…
    </p>
  );
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
