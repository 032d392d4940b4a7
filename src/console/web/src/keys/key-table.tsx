import type { KeyView } from '../api';
import { formatDate, resourcePath } from '../format';
import { extraActions, keyStatus, RESOURCE_LABELS, ResourceType } from './derive-form';
import { useResourceNames } from './use-resource-names';

const short = (id: string | null) => (id ? id.slice(-8) : '');

/** Where a key came from, relative to the acting key. */
function origin(key: KeyView, actingId: string, byId: Map<string, KeyView>): string {
  if (key.parentId === actingId) return 'derived from this key';
  if (key.parentId) {
    const parent = byId.get(key.parentId);
    return `derived from ${parent?.label ? `“${parent.label}”` : `key …${short(key.parentId)}`}`;
  }
  if (key.createdByKeyId === actingId) return 'made with a new resource';
  return '';
}

/** The keys the acting key manages: what each may do, where, until when, and a revoke button for live ones. */
export function KeyTable(props: { keys: KeyView[]; actingId: string; canRevoke: boolean; onRevoke: (key: KeyView) => void }) {
  const byId = new Map(props.keys.map((key) => [key.id, key]));
  const names = useResourceNames(props.keys.map((key) => key.resource));
  return (
    <div class="table-wrap">
      <table class="key-table">
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Permissions</th>
            <th scope="col">Applies to</th>
            <th scope="col">Expires</th>
            <th scope="col" class="optional">
              Created
            </th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.keys.map((key) => {
            const status = keyStatus(key);
            const extra = extraActions(key);
            const type = key.resource.type as ResourceType;
            return (
              <tr key={key.id} class={`key-${status}`} data-key-id={key.id}>
                <td>
                  <strong>{key.label || 'Unlabelled key'}</strong>
                  <small class="key-meta">
                    …{short(key.id)} {origin(key, props.actingId, byId) && `· ${origin(key, props.actingId, byId)}`}
                  </small>
                  {status !== 'active' && <span class={`key-badge key-badge-${status}`}>{status}</span>}
                </td>
                <td>
                  {key.roles.join(', ') || <span class="muted">no role</span>}
                  {extra.length > 0 && (
                    <small class="key-meta" title={extra.join(', ')}>
                      + {extra.join(', ')}
                    </small>
                  )}
                </td>
                <td>
                  {type === 'provider' ? (
                    'Everything'
                  ) : (
                    <a href={resourcePath(key.resource)} title={key.resource.id ?? undefined}>
                      {RESOURCE_LABELS[type] ?? type} {names.get(key.resource.id ?? '') ?? `…${short(key.resource.id)}`}
                    </a>
                  )}
                </td>
                <td>
                  {status === 'revoked' ? <span class="muted">revoked {formatDate(key.revokedAt)}</span> : key.expiresAt ? formatDate(key.expiresAt) : 'never'}
                </td>
                <td class="optional">{formatDate(key.createdAt)}</td>
                <td>
                  {props.canRevoke && status === 'active' && (
                    <button type="button" class="danger" aria-label={`Revoke ${key.label || `key …${short(key.id)}`}`} onClick={() => props.onRevoke(key)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
