import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { actingKey, actWith, api, describeError, refreshSession, session, WalletKey } from '../api';
import { formatDate, resourcePath } from '../format';
import { keyTitle } from '../components/layout';
import { Card, ErrorNotice } from '../components/ui';
import { extractKey } from './login';

/** The wallet: every key this person (or this browser) holds, and where each one leads. */
export function Home() {
  const { route } = useLocation();
  const state = session.value!;
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  if (!state.user && state.keys.length === 0) {
    route('/login', true);
    return null;
  }
  const open = (k: WalletKey) => {
    actWith(k.id);
    route(resourcePath(k.resource));
  };
  const add = async (event: Event) => {
    event.preventDefault();
    try {
      const added = await api<WalletKey>('/session/keys', { method: 'POST', body: { key: key.trim(), save: Boolean(state.user) }, keyId: null });
      setKey('');
      await refreshSession();
      actWith(added.id);
    } catch (caught) {
      setError(caught);
    }
  };
  const change = async (k: WalletKey, save: boolean | 'forget') => {
    try {
      if (save === 'forget') await api(`/session/keys/${k.id}`, { method: 'DELETE', keyId: null });
      else await api(`/session/keys/${k.id}`, { method: 'PATCH', body: { save }, keyId: null });
      await refreshSession();
    } catch (caught) {
      alert(describeError(caught));
    }
  };
  return (
    <section>
      <h1>{state.user ? `Welcome, ${state.user.displayName ?? state.user.username ?? state.user.email}` : 'Your keys'}</h1>
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      <Card title="Keys you hold">
        {state.keys.length === 0 ? (
          <p>You hold no keys yet. Paste one below, or ask your provider for one.</p>
        ) : (
          <ul class="wallet">
            {state.keys.map((k) => (
              <li key={k.id} class={k.id === actingKey.value?.id ? 'current' : undefined}>
                <div>
                  <strong>{keyTitle(k)}</strong>
                  <small>
                    {k.saved ? 'in your wallet' : 'this session only'}
                    {k.expiresAt ? ` · expires ${formatDate(k.expiresAt)}` : ''}
                  </small>
                </div>
                <div class="actions">
                  <button type="button" onClick={() => open(k)}>
                    Open
                  </button>
                  {state.user && !k.saved && (
                    <button type="button" class="secondary" onClick={() => change(k, true)}>
                      Save to wallet
                    </button>
                  )}
                  {state.user && k.saved && (
                    <button type="button" class="secondary" onClick={() => change(k, false)}>
                      Remove from wallet
                    </button>
                  )}
                  {!k.saved && (
                    <button type="button" class="secondary" onClick={() => change(k, 'forget')}>
                      Forget
                    </button>
                  )}
                </div>
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Card title="Add a key">
        <form class="inline" onSubmit={add}>
          <label>
            Key or share link
            <input autoComplete="off" spellcheck={false} required value={key} onInput={(e) => setKey(extractKey((e.target as HTMLInputElement).value))} />
          </label>
          <button type="submit">Add</button>
        </form>
      </Card>
    </section>
  );
}
