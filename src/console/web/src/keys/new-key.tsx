import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError, session } from '../api';
import { formatDate } from '../format';
import { copyText } from './clipboard';
import type { DerivedKey } from './derive-key-form';
import { RESOURCE_LABELS, ResourceType, shareLink } from './derive-form';
import { keepKey } from './keep-key';

/**
 * The secret of a key just derived, shown this once (the server keeps only its hash): copy it, copy a share link
 * that opens the console with it, or keep it in this browser's keys.
 */
export function NewKey(props: { derived: DerivedKey; resourceName: string | null; onDone: () => void }) {
  const { derived } = props;
  const [status, setStatus] = useState('');
  const [kept, setKept] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const link = shareLink(location.origin, derived.key);
  useEffect(() => heading.current?.focus(), [derived.id]);

  const copy = async (what: 'key' | 'link') => {
    const ok = await copyText(what === 'key' ? derived.key : link);
    setStatus(ok ? (what === 'key' ? 'Key copied.' : 'Share link copied.') : 'Copying failed: select the text and copy it by hand.');
  };
  const keep = async () => {
    try {
      await keepKey(derived.key);
      setKept(true);
      setStatus(session.value?.user ? 'Saved to your wallet.' : 'Added to this session’s keys.');
    } catch (error) {
      setStatus(`Could not add it: ${describeError(error)}`);
    }
  };
  const select = (event: Event) => (event.target as HTMLInputElement).select();

  return (
    <section class="card new-key" aria-labelledby="new-key-title">
      <header>
        <h2 id="new-key-title" ref={heading} tabIndex={-1}>
          Key created: copy it now
        </h2>
      </header>
      <p>
        This is the only time the key is shown; MServe keeps only a fingerprint of it. Whoever has it can{' '}
        {derived.roles.length ? <strong>{derived.roles.join(', ')}</strong> : <strong>{derived.actions.join(', ')}</strong>} on{' '}
        {RESOURCE_LABELS[derived.resource.type as ResourceType].toLowerCase()}{' '}
        {props.resourceName ? <strong>{props.resourceName}</strong> : <code>{derived.resource.id}</code>}
        {derived.expiresAt ? `, until ${formatDate(derived.expiresAt)}` : ', until it is revoked'}.
      </p>
      <label>
        Key
        <input class="secret" readOnly value={derived.key} spellcheck={false} onFocus={select} data-testid="new-key-secret" />
      </label>
      <label>
        Share link
        <input class="secret" readOnly value={link} spellcheck={false} onFocus={select} data-testid="new-key-link" />
      </label>
      <div class="actions">
        <button type="button" onClick={() => copy('key')}>
          Copy key
        </button>
        <button type="button" onClick={() => copy('link')}>
          Copy share link
        </button>
        {!kept && (
          <button type="button" class="secondary" onClick={keep}>
            {session.value?.user ? 'Save to my wallet' : 'Keep in this session'}
          </button>
        )}
        <button type="button" class="secondary" onClick={props.onDone}>
          Done
        </button>
      </div>
      <p class="muted" role="status" aria-live="polite">
        {status}
      </p>
    </section>
  );
}
