import { useState } from 'preact/hooks';
import { actingKey, api, session } from '../api';
import { formatDate } from '../format';
import { Card, ErrorNotice, useLoad } from '../components/ui';

interface UserView {
  id: string;
  username: string | null;
  email: string | null;
  displayName: string | null;
  provider: 'password' | 'oidc';
  disabled: boolean;
  lastLoginAt: string | null;
  createdAt: string;
}

function field(setter: (value: string) => void) {
  return (event: Event) => setter((event.target as HTMLInputElement).value);
}

/** The person's own account (password), and, for the provider, everyone's accounts. */
export default function Account() {
  const user = session.value?.user;
  const provider = actingKey.value?.resource.type === 'provider';
  return (
    <section>
      <h1>Account</h1>
      {user ? (
        <OwnAccount />
      ) : (
        <p>
          You are using MServe with a key only. <a href="/login">Log in</a> to keep keys in a wallet.
        </p>
      )}
      {provider && <Users />}
    </section>
  );
}

function OwnAccount() {
  const user = session.value!.user!;
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const mismatch = repeat !== '' && repeat !== password;
  const submit = async (event: Event) => {
    event.preventDefault();
    if (mismatch) return;
    setDone(false);
    try {
      await api('/session/password', { method: 'PUT', body: { currentPassword: current || undefined, password }, keyId: null });
      setDone(true);
      setCurrent('');
      setPassword('');
      setRepeat('');
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <Card title="You">
      <dl class="facts">
        <dt>Name</dt>
        <dd>{user.displayName ?? '—'}</dd>
        <dt>User name</dt>
        <dd>{user.username ?? '—'}</dd>
        <dt>Email</dt>
        <dd>{user.email ?? '—'}</dd>
        <dt>Logs in with</dt>
        <dd>{user.provider === 'oidc' ? `${session.value!.oidc.label || 'OpenID Connect'}` : 'password'}</dd>
      </dl>
      <form onSubmit={submit} aria-labelledby="password-change">
        <h3 id="password-change">{user.provider === 'oidc' ? 'Set a password (optional)' : 'Change your password'}</h3>
        <ErrorNotice error={error} onDismiss={() => setError(null)} />
        {done && (
          <p class="notice ok" role="status">
            Password changed.
          </p>
        )}
        {user.provider === 'password' && (
          <label>
            Current password
            <input type="password" autoComplete="current-password" required value={current} onInput={field(setCurrent)} />
          </label>
        )}
        <label>
          New password
          <input
            type="password"
            autoComplete="new-password"
            required
            minLength={10}
            value={password}
            onInput={field(setPassword)}
            aria-describedby="password-rule"
          />
          <small id="password-rule">At least 10 characters.</small>
        </label>
        <label>
          New password again
          <input
            type="password"
            autoComplete="new-password"
            required
            value={repeat}
            onInput={field(setRepeat)}
            aria-invalid={mismatch}
            aria-describedby="repeat-error"
          />
          {mismatch && (
            <span id="repeat-error" class="field-error">
              The two passwords differ.
            </span>
          )}
        </label>
        <button type="submit" disabled={mismatch || password.length < 10}>
          Change password
        </button>
      </form>
    </Card>
  );
}

function Users() {
  const users = useLoad(() => api<{ items: UserView[] }>('/users'), []);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [email, setEmail] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [giving, setGiving] = useState<string | null>(null);
  const [giveKey, setGiveKey] = useState('');
  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      setError(null);
      await users.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const create = (event: Event) => {
    event.preventDefault();
    void act(async () => {
      await api('/users', { method: 'POST', body: { username, password: password || undefined, email: email || undefined } });
      setUsername('');
      setPassword('');
      setEmail('');
    });
  };
  return (
    <Card title="People">
      <ErrorNotice error={error ?? users.error} onDismiss={() => setError(null)} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>User</th>
              <th class="optional">Logs in with</th>
              <th class="optional">Last login</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {(users.data?.items ?? []).map((user) => (
              <tr key={user.id}>
                <td>
                  {user.displayName ?? user.username ?? user.email}
                  <small> {user.username ? `@${user.username}` : user.email}</small>
                  {user.disabled && <strong class="badge"> disabled</strong>}
                </td>
                <td class="optional">{user.provider === 'oidc' ? 'OpenID Connect' : 'password'}</td>
                <td class="optional">{formatDate(user.lastLoginAt)}</td>
                <td>
                  <div class="actions">
                    <button type="button" class="secondary" onClick={() => setGiving(giving === user.id ? null : user.id)}>
                      Give a key
                    </button>
                    <button
                      type="button"
                      class="secondary"
                      onClick={() => act(() => api(`/users/${user.id}`, { method: 'PATCH', body: { disabled: !user.disabled } }))}
                    >
                      {user.disabled ? 'Enable' : 'Disable'}
                    </button>
                  </div>
                  {giving === user.id && (
                    <form
                      class="inline"
                      onSubmit={(event) => {
                        event.preventDefault();
                        void act(async () => {
                          await api(`/users/${user.id}/keys`, { method: 'PUT', body: { key: giveKey } });
                          setGiveKey('');
                          setGiving(null);
                        });
                      }}
                    >
                      <label>
                        Key or share link to put in their wallet
                        <input autoComplete="off" spellcheck={false} required value={giveKey} onInput={field(setGiveKey)} />
                      </label>
                      <button type="submit">Give</button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form class="inline" onSubmit={create} aria-labelledby="new-user">
        <h3 id="new-user" class="sr-only">
          New user
        </h3>
        <label>
          User name
          <input required pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,63}" title="letters, digits, . _ -" value={username} onInput={field(setUsername)} />
        </label>
        <label>
          Password (10+ characters)
          <input type="password" autoComplete="new-password" minLength={10} value={password} onInput={field(setPassword)} />
        </label>
        <label>
          Email (optional)
          <input type="email" value={email} onInput={field(setEmail)} />
        </label>
        <button type="submit">Create user</button>
      </form>
    </Card>
  );
}
