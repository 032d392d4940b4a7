import type { ComponentChildren } from 'preact';
import { useLocation } from 'preact-iso';
import { actingKey, actWith, api, describeError, refreshSession, session } from '../api';
import { resourcePath } from '../format';

export function keyTitle(key: { label: string | null; roles: string[]; resource: { type: string }; resourceName?: string | null }): string {
  const what = key.resourceName ? `${key.resource.type} ${key.resourceName}` : key.resource.type;
  return `${key.label ? `${key.label} — ` : ''}${key.roles.join(', ') || 'custom'} on ${what}`;
}

/** Header (navigation, the key the console acts with, who is logged in) and the main region. */
export function Layout({ children }: { children: ComponentChildren }) {
  const { route, path } = useLocation();
  const state = session.value!;
  const key = actingKey.value;
  const provider = key?.resource.type === 'provider';
  const logout = async () => {
    try {
      await api('/session/logout', { method: 'POST', keyId: null });
    } catch (error) {
      alert(describeError(error));
    }
    actWith(null);
    await refreshSession();
    route('/login');
  };
  const nav = [
    { href: '/', label: 'Home' },
    ...(key ? [{ href: resourcePath(key.resource), label: 'Browse' }] : []),
    ...(key ? [{ href: '/keys', label: 'Keys' }] : []),
    ...(key && key.actions.includes('usage:read') ? [{ href: usagePath(key.resource), label: 'Usage' }] : []),
    ...(provider ? [{ href: '/queues', label: 'Queues' }] : []),
    ...(state.user || provider ? [{ href: '/account', label: provider ? 'Account & people' : 'Account' }] : []),
  ];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          MServe
        </a>
        <nav aria-label="Main">
          <ul>
            {nav.map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={path === item.href ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {state.keys.length > 0 && (
            <label class="key-switch">
              <span class="sr-only">Act with key</span>
              <select
                value={key?.id}
                onChange={(event) => {
                  actWith((event.target as HTMLSelectElement).value);
                  route(resourcePath(actingKey.value!.resource));
                }}
              >
                {state.keys.map((k) => (
                  <option key={k.id} value={k.id}>
                    {keyTitle(k)}
                  </option>
                ))}
              </select>
            </label>
          )}
          {state.user ? (
            <>
              <a href="/account" class="user">
                {state.user.displayName ?? state.user.username ?? state.user.email}
              </a>
              <button type="button" class="link" onClick={logout}>
                Log out
              </button>
            </>
          ) : state.keys.length ? (
            <>
              <button type="button" class="link" onClick={logout}>
                Forget keys
              </button>
              <a href="/login">Log in</a>
            </>
          ) : (
            <a href="/login">Log in</a>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

export function usagePath(resource: { type: string; id: string | null }): string {
  if (resource.type === 'container') return `/containers/${resource.id}/usage`;
  if (resource.type === 'service') return `/services/${resource.id}/usage`;
  return '/usage';
}
