import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { ErrorNote } from '../../ui/ErrorNote.tsx';

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

/** Email and password of an existing account, and the button that signs in with them. */
export function SignInFields(props: { error: unknown; busy: boolean }) {
  return (
    <>
      <label>
        Email
        <input name="email" type="email" autocomplete="username" required />
      </label>
      <label>
        Password
        <input name="password" type="password" autocomplete="current-password" required />
      </label>
      <ErrorNote error={props.error} />
      <button type="submit" class="primary" disabled={props.busy}>
        {props.busy ? 'Signing in…' : 'Sign in'}
      </button>
    </>
  );
}
