import { useState } from 'preact/hooks';
import { session } from '../../session/session.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { AuthFrame } from './AuthForm.tsx';

/** A new person and their organization, with a Default project (dev, staging, production). */
export function SignUp() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      await session.signUp({
        name: String(form.get('name')),
        email: String(form.get('email')),
        password: String(form.get('password')),
        orgName: String(form.get('orgName')),
      });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthFrame title="Create your account">
      <form onSubmit={submit} class="stack">
        <label>
          Your name
          <input name="name" autocomplete="name" required />
        </label>
        <label>
          Work email
          <input name="email" type="email" autocomplete="email" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="new-password" minLength={8} required />
        </label>
        <label>
          Organization
          <input name="orgName" autocomplete="organization" required />
        </label>
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
      <p>
        Already have an account? <a href="/sign-in">Sign in</a>
      </p>
    </AuthFrame>
  );
}
