import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Paged } from './use-paged';

/** Under a keyset-paged list: how many are shown, and a button for the next page while there is one. */
export function LoadMore<T>({ paged, noun }: { paged: Paged<T>; noun: [singular: string, plural: string] }) {
  if (paged.loading) return null;
  const count = paged.items.length;
  return (
    <div class="load-more">
      <span class="muted" role="status" aria-live="polite">
        {count === 0 ? '' : `${count} ${count === 1 ? noun[0] : noun[1]}${paged.nextCursor ? ' shown, more to load' : ''}`}
      </span>
      {paged.nextCursor && (
        <button type="button" class="secondary" onClick={() => void paged.loadMore()} disabled={paged.loadingMore} aria-busy={paged.loadingMore}>
          {paged.loadingMore ? 'Loading…' : 'Load more'}
        </button>
      )}
    </div>
  );
}

/** A search box that applies what was typed after a short pause (and at once on Enter). */
export function SearchField({
  label,
  value,
  onChange,
  placeholder,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
}) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const timer = setTimeout(() => onChange(text), 300);
    return () => clearTimeout(timer);
  }, [text]);
  return (
    <label class="search-field">
      {label}
      <input
        type="search"
        value={text}
        placeholder={placeholder}
        onInput={(event) => setText((event.target as HTMLInputElement).value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter') {
            event.preventDefault();
            onChange(text);
          }
        }}
      />
    </label>
  );
}

export interface Crumb {
  label: string;
  href?: string;
}

export function Breadcrumbs({ items }: { items: Crumb[] }) {
  // one crumb would only repeat the page's heading
  if (items.length < 2) return null;
  return (
    <nav aria-label="Breadcrumbs">
      <ol class="breadcrumbs">
        {items.map((item, index) => (
          <li key={index}>
            {item.href && index < items.length - 1 ? (
              <a href={item.href}>{item.label}</a>
            ) : (
              <span aria-current={index === items.length - 1 ? 'page' : undefined}>{item.label}</span>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}

export function Badge({ children, tone = 'muted' }: { children: ComponentChildren; tone?: 'muted' | 'warn' | 'ok' | 'danger' }) {
  return <span class={`pill pill-${tone}`}>{children}</span>;
}

/**
 * A labelled input with its error below it, outside the label (so the input's accessible name stays its label, and
 * the error is its description). The input must carry `id` and, when there is an error, `aria-describedby={id}-error`.
 */
export function Field({
  id,
  label,
  error,
  children,
  class: className,
}: {
  id: string;
  label: ComponentChildren;
  error?: string | null;
  children: ComponentChildren;
  class?: string;
}) {
  return (
    <div class={`field${className ? ` ${className}` : ''}`}>
      <label for={id}>{label}</label>
      {children}
      {error && (
        <span id={`${id}-error`} class="field-error">
          {error}
        </span>
      )}
    </div>
  );
}

/** The attributes an input in a <Field> carries for its error. */
export function describedBy(id: string, error: string | null | undefined) {
  return { id, 'aria-invalid': error ? ('true' as const) : undefined, 'aria-describedby': error ? `${id}-error` : undefined };
}
