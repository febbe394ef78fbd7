// Sign in, create an account, or go on as a guest; the guest's cart follows into the account (the guest token is
// sent as the bearer, docs/PROTOCOL.md §2.1). Signed in: the address book and signing out.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AddressView } from '../../src/client/index.ts';
import { ApiError } from '../shared/session.ts';
import { ErrorNote } from '../shared/ui.tsx';
import { AddressFields, addressOf, addressProblem, emptyAddress, formatAddress } from './checkout.tsx';
import { href, navigate, type Route } from './router.ts';
import { describeError, type SignedIn, useShop } from './shop.tsx';
import { Field, Loading } from './widgets.tsx';

export function AccountPage({ route }: { route: Route }) {
  const shop = useShop();
  const heading = useRef<HTMLHeadingElement>(null);
  const next = route.query.get('next');
  const done = (text: string) => {
    shop.notify(text, 'ok');
    if (next === 'checkout' || next === 'cart' || next === 'orders') navigate(`#/${next}`);
    // Back to the product whose "Sign in to write a review" brought the shopper here.
    else if (next?.startsWith('product/') && next.length > 'product/'.length) navigate(href.product(next.slice('product/'.length)));
    else setTimeout(() => heading.current?.focus(), 0);
  };
  if (!shop.token) {
    return (
      <>
        <h1 tabIndex={-1}>Your account</h1>
        <Loading what="your session" />
      </>
    );
  }
  if (shop.account) {
    return (
      <>
        <h1 tabIndex={-1} ref={heading}>
          Your account
        </h1>
        <p data-testid="signed-in">
          Signed in as <strong>{shop.account.name}</strong> ({shop.account.email}).
        </p>
        <p class="row">
          <a href={href.orders()}>Your orders</a>
          <button
            type="button"
            class="secondary"
            onClick={async () => {
              await shop.signOut();
              shop.notify('You are signed out. You can go on shopping as a guest.', 'info');
              setTimeout(() => heading.current?.focus(), 0);
            }}
          >
            Sign out
          </button>
        </p>
        <AddressBook />
      </>
    );
  }
  return (
    <>
      <h1 tabIndex={-1} ref={heading}>
        Sign in or create an account
      </h1>
      <p data-testid="guest-note">
        You are shopping as a guest, and that is fine: you can check out without an account. Sign in or create one to keep your orders and addresses; your cart
        comes with you. <a href={href.home()}>Continue as a guest</a>.
      </p>
      <div class="columns account-forms">
        <SignIn onDone={({ account, broughtCart }) => done(`Welcome back, ${account.name}.${broughtCart ? ' Your cart came with you.' : ''}`)} />
        <Register
          onDone={({ account, broughtCart }) => done(`Welcome, ${account.name}: your account is ready${broughtCart ? ' and your cart came with you' : ''}.`)}
        />
      </div>
    </>
  );
}

function SignIn({ onDone }: { onDone: (signedIn: SignedIn) => void }) {
  const shop = useShop();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (!email.trim() || !password) return setError('Enter your e-mail address and your password.');
    setBusy(true);
    try {
      onDone(await shop.signIn(email.trim(), password));
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status === 401 ? 'The e-mail address or the password is wrong.' : describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} noValidate aria-labelledby="signin-heading">
      <h2 id="signin-heading">Sign in</h2>
      <Field label="E-mail">
        {(props) => <input {...props} type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
      </Field>
      <Field label="Password">
        {(props) => (
          <input {...props} type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        )}
      </Field>
      <ErrorNote error={error} />
      <p>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </p>
    </form>
  );
}

function Register({ onDone }: { onDone: (signedIn: SignedIn) => void }) {
  const shop = useShop();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (!name.trim() || !email.trim()) return setError('Enter your name and your e-mail address.');
    if (password.length < 8) return setError('Choose a password of at least 8 characters.');
    setBusy(true);
    try {
      onDone(await shop.register(name.trim(), email.trim(), password));
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.code === 'CONFLICT'
          ? 'There is already an account with this e-mail address: sign in instead.'
          : describeError(failure),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} noValidate aria-labelledby="register-heading">
      <h2 id="register-heading">Create an account</h2>
      <Field label="Name">{(props) => <input {...props} autoComplete="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
      <Field label="E-mail">
        {(props) => <input {...props} type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
      </Field>
      <Field label="Password" hint="At least 8 characters.">
        {(props) => (
          <input
            {...props}
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        )}
      </Field>
      <ErrorNote error={error} />
      <p>
        <button type="submit" disabled={busy}>
          {busy ? 'Creating your account…' : 'Create account'}
        </button>
      </p>
    </form>
  );
}

function AddressBook() {
  const { conn, account } = useShop();
  const [book, setBook] = useState<readonly AddressView[] | null>(null);
  const [draft, setDraft] = useState(() => emptyAddress(account?.name ?? ''));
  const [label, setLabel] = useState('Home');
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!conn) return;
    conn
      .call('addresses:list', {})
      .then(({ addresses }) => setBook(addresses))
      .catch((failure: unknown) => setError(describeError(failure)));
  }, [conn]);
  const run = async (action: () => Promise<{ addresses: AddressView[] }>) => {
    setError(null);
    try {
      setBook((await action()).addresses);
      return true;
    } catch (failure) {
      setError(describeError(failure));
      return false;
    }
  };
  const add = async (event: Event) => {
    event.preventDefault();
    if (!conn) return;
    const problem = addressProblem(draft);
    if (problem) return setError(problem);
    if (await run(() => conn.call('address:save', { ...addressOf(draft), label: label.trim() || 'Home' }))) {
      setAdding(false);
      setDraft(emptyAddress(account?.name ?? ''));
    }
  };
  return (
    <section aria-labelledby="book-heading">
      <h2 id="book-heading">Address book</h2>
      {book === null ? (
        !error && <Loading what="your addresses" />
      ) : book.length === 0 ? (
        <p class="muted">No addresses yet. The first one you add becomes the default for checkout.</p>
      ) : (
        <ul class="plain-list address-book">
          {book.map((address) => (
            <li key={address.id} class="card">
              <p>
                <strong>{address.label || 'Address'}</strong> {address.isDefault && <span class="badge">Default</span>}
              </p>
              <p>{formatAddress(address)}</p>
              <p class="row">
                {!address.isDefault && conn && (
                  <button
                    type="button"
                    class="secondary"
                    onClick={() =>
                      run(() =>
                        conn.call('address:save', {
                          ...addressOf({ ...address, line2: address.line2 ?? '' }),
                          id: address.id,
                          label: address.label,
                          makeDefault: true,
                        }),
                      )
                    }
                  >
                    Make default<span class="visually-hidden">: {address.label}</span>
                  </button>
                )}
                {conn && (
                  <button type="button" class="link-button" onClick={() => run(() => conn.call('address:delete', { addressId: address.id }))}>
                    Delete<span class="visually-hidden"> address {address.label}</span>
                  </button>
                )}
              </p>
            </li>
          ))}
        </ul>
      )}
      <ErrorNote error={error} />
      {adding ? (
        <form class="card" onSubmit={add} noValidate aria-labelledby="add-address-heading">
          <h3 id="add-address-heading">New address</h3>
          <Field label="Label">{(props) => <input {...props} value={label} onInput={(e) => setLabel(e.currentTarget.value)} />}</Field>
          <AddressFields draft={draft} onChange={setDraft} />
          <p class="row">
            <button type="submit">Save address</button>
            <button type="button" class="secondary" onClick={() => setAdding(false)}>
              Never mind
            </button>
          </p>
        </form>
      ) : (
        <button type="button" class="secondary" onClick={() => setAdding(true)}>
          Add an address
        </button>
      )}
    </section>
  );
}
