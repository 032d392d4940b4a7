import { useState } from 'preact/hooks';
import { session } from '../api';
import { ErrorNotice } from '../components/ui';
import { keepKey } from '../keys/keep-key';

export interface RevealedKey {
  /** What the key is for, e.g. "serviceadmin key". */
  label: string;
  secret: string;
  hint?: string;
}

/** Copies text; the Clipboard API needs a secure context, so a selected field and execCommand stand in elsewhere. */
export async function copyText(text: string, field?: HTMLInputElement | null): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall back below */
  }
  if (!field) return false;
  field.focus();
  field.select();
  return document.execCommand('copy');
}

function SecretField({ item, index }: { item: RevealedKey; index: number }) {
  const [status, setStatus] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [added, setAdded] = useState(false);
  const id = `revealed-key-${index}`;
  const link = `${location.origin}/browse/${item.secret}`;
  const copy = async (text: string, what: string) => {
    const ok = await copyText(text, document.getElementById(id) as HTMLInputElement | null);
    setStatus(ok ? `${what} copied.` : 'Copy did not work here: select the text and copy it yourself.');
  };
  const keep = async () => {
    try {
      await keepKey(item.secret);
      setAdded(true);
      setStatus(session.value?.user ? 'Saved to your wallet.' : 'Added to this session.');
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <div class="key-reveal-item">
      <label for={id}>{item.label}</label>
      <div class="key-reveal-row">
        <input
          id={id}
          class="secret"
          readOnly
          value={item.secret}
          spellcheck={false}
          autoComplete="off"
          onFocus={(e) => (e.target as HTMLInputElement).select()}
        />
        <button type="button" onClick={() => copy(item.secret, 'Key')}>
          Copy key
        </button>
        <button type="button" class="secondary" onClick={() => copy(link, 'Share link')}>
          Copy share link
        </button>
        {!added && (
          <button type="button" class="secondary" onClick={keep}>
            {session.value?.user ? 'Save to my wallet' : 'Add to my keys'}
          </button>
        )}
      </div>
      {item.hint && <small>{item.hint}</small>}
      <p class="muted key-reveal-status" role="status" aria-live="polite">
        {status}
      </p>
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
    </div>
  );
}

/** A key secret just issued (a new container or service): shown once, with copy buttons and a share link. */
export function KeyReveal({ title, keys, onDone }: { title: string; keys: RevealedKey[]; onDone: () => void }) {
  return (
    <section class="card key-reveal" aria-labelledby="key-reveal-title">
      <header>
        <h2 id="key-reveal-title">{title}</h2>
      </header>
      <p class="notice key-warning">
        Copy {keys.length > 1 ? 'these keys' : 'this key'} now: MServe stores only a hash and cannot show {keys.length > 1 ? 'them' : 'it'} again.
      </p>
      {keys.map((item, index) => (
        <SecretField key={item.secret} item={item} index={index} />
      ))}
      <button type="button" onClick={onDone}>
        I have saved {keys.length > 1 ? 'them' : 'it'}
      </button>
    </section>
  );
}
