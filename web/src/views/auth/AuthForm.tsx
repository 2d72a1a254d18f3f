import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';

/** The frame of the signed-out pages. */
export function AuthFrame(props: { title: string; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Vexil`;
  }, [props.title]);
  return (
    <main class="auth" id="main">
      <div class="auth-card">
        <p class="brand">
          <img src="/favicon.svg" alt="" width="28" height="28" /> <span>Vexil</span>
        </p>
        <h1>{props.title}</h1>
        {props.children}
      </div>
    </main>
  );
}
