// Staff sign-in: POST /api/auth/login, then the /warehouse handshake, which refuses anyone but staff and admins.
import { useState } from 'preact/hooks';
import { ApiError, login, logout } from '../shared/session.ts';
import { ErrorNote } from '../shared/ui.tsx';
import { openSession, type Session } from './connection.ts';
import { describeError } from './format.ts';

export function SignIn({ onSignedIn, notice }: { onSignedIn: (session: Session) => void; notice: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { token, customer } = await login(email.trim(), password);
      try {
        onSignedIn(await openSession(token, customer));
      } catch (refused) {
        // The token is of no use here: end that session rather than leave it lying around.
        void logout(token).catch(() => undefined);
        throw refused;
      }
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === 'UNAUTHORIZED') setError('The email or the password is wrong.');
      else setError(failure instanceof ApiError ? describeError(failure) : failure instanceof Error ? failure.message : String(failure));
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="signin-title" class="card in-signin">
      <h1 id="signin-title">Actor inspector sign-in</h1>
      <p class="muted">For staff and admins: every cart, order, shipment and offer, its journal replayed, live.</p>
      {notice && (
        <p class="banner" role="alert" data-testid="signin-notice">
          {notice}
        </p>
      )}
      <form onSubmit={submit} class="in-form" aria-describedby={error ? 'signin-error' : undefined}>
        <label for="signin-email">Email</label>
        <input id="signin-email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        <label for="signin-password">Password</label>
        <input
          id="signin-password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <div class="row in-buttons">
          <button type="submit" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </div>
      </form>
      <div id="signin-error" data-testid="signin-error">
        <ErrorNote error={error} />
      </div>
    </section>
  );
}
