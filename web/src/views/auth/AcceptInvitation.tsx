import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { session } from '../../session/session.ts';
import { useViewer } from '../../session/viewer.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { useAction } from '../../ui/mutation.ts';
import { Page } from '../../ui/Page.tsx';
import { AuthFrame, SignInFields } from './AuthForm.tsx';

const Accept = graphql(`
  mutation AcceptInvitation($token: String!, $name: String, $password: String) {
    acceptInvitation(token: $token, name: $name, password: $password) {
      tokens { accessToken refreshToken expiresAt }
      organization { id name }
    }
  }
`);

/**
 * The invitation's token: after `#` in the link the server mails or answers (`/invite#vx_inv_…`),
 * so it never reaches a server log; `?token=` is accepted too.
 */
function tokenOfLink(): string {
  const fromHash = decodeURIComponent(window.location.hash.replace(/^#/, ''));
  return fromHash || (new URLSearchParams(window.location.search).get('token') ?? '');
}

/** Starts over in the organization the invitation joined: nothing of another one stays on screen. */
function enter(tokens: { accessToken: string; refreshToken: string; expiresAt: number }) {
  const previous = session.current;
  localStorage.removeItem('vexil.project');
  session.adopt(tokens, previous);
  window.location.replace('/');
}

function SignedOutAccept({ token }: { token: string }) {
  const accept = useAction(Accept);
  const [signingIn, setSigningIn] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const register = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const done = await accept.run({ token, name: String(form.get('name')), password: String(form.get('password')) });
    if (done) enter(done.acceptInvitation.tokens);
  };
  // Signing in shows this page again, signed in: the person then accepts with their account.
  const signIn = async (event: Event) => {
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

  if (signingIn) {
    return (
      <>
        <p>Sign in with the account the invitation was sent to, then accept it.</p>
        <form onSubmit={signIn} class="stack" aria-label="Sign in to accept">
          <SignInFields error={error} busy={busy} />
        </form>
        <p>
          New to Vexil?{' '}
          <button type="button" class="link" onClick={() => setSigningIn(false)}>
            Create your account instead
          </button>
        </p>
      </>
    );
  }
  return (
    <>
      <p>Create your account to join. Your email is the address the invitation was sent to.</p>
      <form onSubmit={register} class="stack" aria-label="Create your account and join">
        <label>
          Your name
          <input name="name" autocomplete="name" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="new-password" minLength={8} required />
        </label>
        <ErrorNote error={accept.error} />
        <button type="submit" class="primary" disabled={accept.fetching}>
          {accept.fetching ? 'Joining…' : 'Create account and join'}
        </button>
      </form>
      <p>
        Already have a Vexil account?{' '}
        <button type="button" class="link" onClick={() => setSigningIn(true)}>
          Sign in to accept
        </button>
      </p>
    </>
  );
}

function SignedInAccept({ token }: { token: string }) {
  const viewer = useViewer();
  const accept = useAction(Accept);
  return (
    <>
      <p>
        Signed in as {viewer.me.user?.name} ({viewer.me.user?.email}). Accepting adds this account to the organization
        that invited it.
      </p>
      <ErrorNote error={accept.error} />
      <button
        type="button"
        class="primary"
        disabled={accept.fetching}
        onClick={async () => {
          const done = await accept.run({ token });
          if (done) enter(done.acceptInvitation.tokens);
        }}
      >
        Accept the invitation
      </button>
      <p>
        Not you?{' '}
        <button type="button" class="link" onClick={() => void session.signOut()}>
          Sign out
        </button>{' '}
        and open the link again.
      </p>
    </>
  );
}

/** `/invite#<token>`: joins the organization that invited the person, signed in or not. */
export function AcceptInvitation() {
  const [token] = useState(tokenOfLink);
  const missing = (
    <p class="error-note" role="alert">
      This link carries no invitation. Ask whoever invited you for the full link.
    </p>
  );
  // Signed in, the page sits in the console's frame; signed out, in the sign-in page's.
  if (session.current) {
    return <Page title="Accept the invitation">{token ? <SignedInAccept token={token} /> : missing}</Page>;
  }
  return (
    <AuthFrame title="Join an organization on Vexil">{token ? <SignedOutAccept token={token} /> : missing}</AuthFrame>
  );
}
