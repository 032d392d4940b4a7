import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { actWith, api, refreshSession, WalletKey } from '../api';
import { resourcePath } from '../format';
import { ErrorNotice, Spinner } from '../components/ui';

/**
 * A capability link: `/browse/<key>` opens the console with that key, without an account. The key goes to the
 * session once (POST /session/keys) and leaves the address bar and the history at once.
 */
export function BrowseKey() {
  const { params } = useRoute();
  const { route } = useLocation();
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const secret = params.key;
    history.replaceState(null, '', '/browse');
    void (async () => {
      try {
        const added = await api<WalletKey>('/session/keys', { method: 'POST', body: { key: secret }, keyId: null });
        await refreshSession();
        actWith(added.id);
        route(resourcePath(added.resource), true);
      } catch (caught) {
        setError(caught);
      }
    })();
  }, []);
  return error ? (
    <section>
      <h1>This link does not open anything</h1>
      <ErrorNotice error={error} />
      <p><a href="/login">Log in</a> or ask for a new link.</p>
    </section>
  ) : (
    <Spinner label="Opening the shared link…" />
  );
}
