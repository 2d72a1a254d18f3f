import { useState } from 'preact/hooks';
import { session } from '../../session/session.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { AuthFrame } from './AuthForm.tsx';

export function SignIn({ reason }: { reason?: string }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      await session.signIn(String(form.get('email')), String(form.get('password')));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthFrame title="Sign in">
      {reason && (
        <p class="notice notice-info" role="status">
          {reason}
        </p>
      )}
      <form onSubmit={submit} class="stack">
        <label>
          Email
          <input name="email" type="email" autocomplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        New to Vexil? <a href="/sign-up">Create an account</a>
      </p>
    </AuthFrame>
  );
}
