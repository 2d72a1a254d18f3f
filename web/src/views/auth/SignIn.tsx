import { useState } from 'preact/hooks';
import { session } from '../../session/session.ts';
import { AuthFrame, SignInFields } from './AuthForm.tsx';

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
        <SignInFields error={error} busy={busy} />
      </form>
      <p>
        New to Vexil? <a href="/sign-up">Create an account</a>
      </p>
    </AuthFrame>
  );
}
