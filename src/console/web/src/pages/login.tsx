import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { actWith, api, refreshSession, session, WalletKey } from '../api';
import { resourcePath } from '../format';
import { ErrorNotice } from '../components/ui';

/** Password login, OpenID Connect, or a pasted key (no account needed). */
export function Login() {
  const { route, query } = useLocation();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(query.error ? new Error(query.error) : null);
  const [busy, setBusy] = useState(false);
  const state = session.value!;

  const login = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await api('/session/login', { method: 'POST', body: { username, password }, keyId: null });
      const next = await refreshSession();
      actWith(next.keys[0]?.id ?? null);
      route('/');
    } catch (caught) {
      setError(caught);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  const openKey = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const added = await api<WalletKey>('/session/keys', { method: 'POST', body: { key: key.trim() }, keyId: null });
      await refreshSession();
      actWith(added.id);
      route(resourcePath(added.resource));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="login">
      <h1>Log in to MServe</h1>
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      {state.user && (
        <p>
          You are logged in as {state.user.username ?? state.user.email}. <a href="/">Continue</a>.
        </p>
      )}
      <div class="login-options">
        <form class="card" onSubmit={login} aria-labelledby="password-login">
          <h2 id="password-login">With your password</h2>
          <label>
            User name
            <input name="username" autoComplete="username" required value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Password
            <input
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit" disabled={busy}>
            Log in
          </button>
        </form>
        {state.oidc.enabled && (
          <div class="card">
            <h2>With your organisation</h2>
            <p>Sign in at your identity provider; MServe creates your account the first time.</p>
            <a class="button" href="/api/v1/session/oidc/login">
              Log in with {state.oidc.label}
            </a>
          </div>
        )}
        <form class="card" onSubmit={openKey} aria-labelledby="key-login">
          <h2 id="key-login">With a key</h2>
          <p>Paste a key (or a share link) someone gave you. No account needed.</p>
          <label>
            Key
            <input
              name="key"
              autoComplete="off"
              spellcheck={false}
              required
              value={key}
              onInput={(e) => setKey(extractKey((e.target as HTMLInputElement).value))}
            />
          </label>
          <button type="submit" disabled={busy}>
            Open
          </button>
        </form>
      </div>
    </section>
  );
}

/** A share link (…/browse/<key>) pasted whole works as well as the bare key. */
export function extractKey(text: string): string {
  const match = /\/browse\/([^/?#\s]+)/.exec(text);
  return match ? decodeURIComponent(match[1]) : text;
}
