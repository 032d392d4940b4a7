import { useEffect, useState } from 'preact/hooks';
import { actingKey, api, KeyView, Page, refreshSession, session } from '../api';
import { formatDate, resourcePath } from '../format';
import { Card, ErrorNotice, Spinner, useLoad } from '../components/ui';
import { ConfirmDialog } from '../components/confirm-dialog';
import { RESOURCE_LABELS, ResourceType } from '../keys/derive-form';
import { DeriveKeyForm, DerivedKey } from '../keys/derive-key-form';
import { KeyTable } from '../keys/key-table';
import { NewKey } from '../keys/new-key';
import { useCursorList } from '../keys/use-cursor-list';

const PAGE_SIZE = 50;

/** The keys derived from the acting key, page by page (keyset paging on GET /keys). */
function useManagedKeys(keyId: string | null, enabled: boolean) {
  const { items, setItems, next, setNext, error, loading, fetchPage } = useCursorList(
    (cursor) => api<Page<KeyView>>('/keys', { query: { limit: PAGE_SIZE, cursor: cursor ?? undefined } }),
    false,
  );
  useEffect(() => {
    setItems([]);
    setNext(null);
    if (keyId && enabled) void fetchPage(null);
  }, [keyId, enabled]);
  return { items, setItems, next, error, loading, loadMore: () => fetchPage(next) };
}

function ActingKey({ me, name }: { me: KeyView; name: string | null }) {
  const type = me.resource.type as ResourceType;
  return (
    <dl class="key-facts">
      <div>
        <dt>Label</dt>
        <dd>{me.label || <span class="muted">none</span>}</dd>
      </div>
      <div>
        <dt>Opens</dt>
        <dd>
          <a href={resourcePath(me.resource)}>{type === 'provider' ? 'the whole provider' : `${RESOURCE_LABELS[type]} ${name ?? me.resource.id}`}</a>
        </dd>
      </div>
      <div>
        <dt>Roles</dt>
        <dd>{me.roles.join(', ') || <span class="muted">none (single actions)</span>}</dd>
      </div>
      <div>
        <dt>Expires</dt>
        <dd>{me.expiresAt ? formatDate(me.expiresAt) : 'never'}</dd>
      </div>
      <div>
        <dt>Id</dt>
        <dd>
          <code>{me.id}</code>
        </dd>
      </div>
      <div class="wide">
        <dt>Actions</dt>
        <dd class="action-chips">
          {me.actions.map((action) => (
            <code key={action}>{action}</code>
          ))}
        </dd>
      </div>
    </dl>
  );
}

/**
 * Keys: the key the console acts with, the keys derived from it, deriving a new one (shown once, with a share
 * link), and revoking (which takes every key derived from the revoked one along).
 */
export default function KeysPage() {
  const acting = actingKey.value;
  const keyId = acting?.id ?? null;
  const me = useLoad(() => (keyId ? api<KeyView>('/me') : Promise.resolve(undefined)), [keyId]);
  const actions = me.data?.actions ?? acting?.actions ?? [];
  const canRead = actions.includes('key:read');
  const canCreate = actions.includes('key:create');
  const canRevoke = actions.includes('key:revoke');
  const list = useManagedKeys(keyId, canRead);
  const [derived, setDerived] = useState<{ key: DerivedKey; name: string | null } | null>(null);
  const [target, setTarget] = useState<KeyView | null>(null);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [showInactive, setShowInactive] = useState(false);
  // another acting key: nothing of the previous one's stays on screen
  useEffect(() => {
    setDerived(null);
    setNotice('');
    setTarget(null);
  }, [keyId]);

  if (!acting) {
    return (
      <section>
        <h1>Keys</h1>
        <p>
          You hold no key yet. <a href="/login">Log in</a> or paste a key on the <a href="/">home page</a>.
        </p>
      </section>
    );
  }

  const onDerived = (key: DerivedKey, name: string | null) => {
    setDerived({ key, name });
    setNotice('');
    // keys are listed in id order (ids are time-ordered): a new one belongs at the end, once the end is loaded
    if (!list.next) list.setItems([...list.items, key]);
  };

  const revoke = async () => {
    if (!target) return;
    // the dialog shows it is working while this runs
    try {
      const result = await api<{ revoked: string[] }>(`/keys/${target.id}`, { method: 'DELETE' });
      const gone = new Set(result.revoked);
      const now = new Date().toISOString();
      list.setItems(list.items.map((key) => (gone.has(key.id) ? { ...key, revokedAt: now } : key)));
      const others = result.revoked.length - 1;
      setNotice(
        `Revoked ${target.label ? `“${target.label}”` : 'the key'}${others > 0 ? ` and ${others} key${others > 1 ? 's' : ''} derived from it` : ''}. ${result.revoked.length > 1 ? 'They stop' : 'It stops'} working at once.`,
      );
      if (session.value?.keys.some((key) => gone.has(key.id))) await refreshSession();
      setTarget(null);
    } catch (caught) {
      setError(caught);
      setTarget(null);
    }
  };

  const inactive = list.items.filter((key) => key.revokedAt || (key.expiresAt && new Date(key.expiresAt).getTime() <= Date.now())).length;
  const shown = showInactive ? list.items : list.items.filter((key) => !key.revokedAt && !(key.expiresAt && new Date(key.expiresAt).getTime() <= Date.now()));
  const derivedFromTarget = target ? list.items.filter((key) => key.parentId === target.id && !key.revokedAt).length : 0;

  return (
    <section class="keys-page">
      <h1>Keys</h1>
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      <Card title="The key you act with">
        {me.error ? <ErrorNotice error={me.error} /> : me.data ? <ActingKey me={me.data} name={acting.resourceName} /> : <Spinner />}
      </Card>

      {derived && <NewKey derived={derived.key} resourceName={derived.name} onDone={() => setDerived(null)} />}

      <Card title="Derive a key">
        {canCreate && me.data ? (
          <>
            <p class="muted">
              A derived key can do at most what yours can, on your {RESOURCE_LABELS[me.data.resource.type as ResourceType].toLowerCase()} or something inside
              it, and expires no later than yours. Revoking yours revokes it too.
            </p>
            <DeriveKeyForm key={me.data.id} parent={me.data} parentName={acting.resourceName} onDerived={onDerived} />
          </>
        ) : me.data ? (
          <p>
            This key cannot derive keys: that needs the action <code>key:create</code>.
          </p>
        ) : (
          <Spinner />
        )}
      </Card>

      <Card
        title="Keys derived from this key"
        actions={
          canRead && inactive > 0 ? (
            <label class="check">
              <input type="checkbox" checked={showInactive} onChange={(event) => setShowInactive((event.target as HTMLInputElement).checked)} />
              Show revoked and expired ({inactive})
            </label>
          ) : undefined
        }
      >
        {notice && (
          <p class="notice ok" role="status">
            {notice}
          </p>
        )}
        {!canRead ? (
          <p>
            This key cannot list keys: that needs the action <code>key:read</code>.
          </p>
        ) : list.error ? (
          <ErrorNotice error={list.error} />
        ) : list.items.length === 0 && list.loading ? (
          <Spinner />
        ) : shown.length === 0 ? (
          <p class="muted">{list.items.length ? 'Every key derived from this one is revoked or expired.' : 'No keys have been derived from this key yet.'}</p>
        ) : (
          <KeyTable keys={shown} actingId={acting.id} canRevoke={canRevoke} onRevoke={setTarget} />
        )}
        {list.next && (
          <button type="button" class="secondary" disabled={list.loading} onClick={list.loadMore}>
            {list.loading ? 'Loading…' : 'Show more keys'}
          </button>
        )}
      </Card>

      <ConfirmDialog
        open={Boolean(target)}
        title="Revoke this key?"
        confirmLabel="Revoke"
        busyLabel="Revoking…"
        onConfirm={revoke}
        onClose={() => setTarget(null)}
      >
        {target && (
          <>
            <p>
              <strong>{target.label || `Key …${target.id.slice(-8)}`}</strong> ({target.roles.join(', ') || target.actions.join(', ')}) stops working at once,
              and so does <strong>every key derived from it</strong>
              {derivedFromTarget > 0 ? ` (${derivedFromTarget} listed here, and any derived from those)` : ''}. Share links made with them stop opening.
            </p>
            <p>This cannot be undone.</p>
          </>
        )}
      </ConfirmDialog>
    </section>
  );
}
