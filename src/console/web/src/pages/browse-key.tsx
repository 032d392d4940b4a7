import { useLayoutEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { actWith, api, refreshSession, session, WalletKey } from '../api';
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
  const [secret] = useState(params.key);
  // A logged-in person is asked first: a link from elsewhere must not quietly change the key they act with.
  const [asking, setAsking] = useState(Boolean(session.value?.user));
  const open = async () => {
    setAsking(false);
    try {
      const added = await api<WalletKey>('/session/keys', { method: 'POST', body: { key: secret }, keyId: null });
      await refreshSession();
      actWith(added.id);
      route(resourcePath(added.resource), true);
    } catch (caught) {
      setError(caught);
    }
  };
  // in the same task as the first render: the key leaves the address bar before anything of the page is shown
  useLayoutEffect(() => {
    history.replaceState(null, '', '/browse');
    if (!asking) void open();
  }, []);
  if (error) {
    return (
      <section>
        <h1>This link does not open anything</h1>
        <ErrorNotice error={error} />
        <p>
          <a href="/login">Log in</a> or ask for a new link.
        </p>
      </section>
    );
  }
  if (asking) {
    return (
      <section class="card">
        <h1>Open a shared link?</h1>
        <p>Someone gave you a link with a key. Opening it adds that key to this session and makes it the one you act with; your own keys stay as they are.</p>
        <div class="actions">
          <button type="button" onClick={() => void open()}>
            Open the shared link
          </button>
          <button type="button" class="secondary" onClick={() => route('/', true)}>
            Cancel
          </button>
        </div>
      </section>
    );
  }
  return <Spinner label="Opening the shared link…" />;
}
