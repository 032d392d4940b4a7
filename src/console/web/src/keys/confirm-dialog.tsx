import type { ComponentChildren } from 'preact';
import { useId, useLayoutEffect, useRef } from 'preact/hooks';

/**
 * A modal question before something that cannot be undone (revoking keys, deleting webhooks, resetting a profile):
 * a native <dialog>, so focus stays inside it and Escape cancels; Cancel has the focus when it opens.
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const titleId = `confirm-${useId()}`;
  // opened and closed in the commit that changes `open`; the 'close' event that follows a close for `open` is not
  // news to the page (and must not cancel a dialog reopened in between) — as in mfile/confirm-dialog.tsx
  const closingForProp = useRef(false);
  useLayoutEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) {
      dialog.showModal();
      cancelRef.current?.focus();
    } else if (!props.open && dialog.open) {
      closingForProp.current = true;
      dialog.close();
    }
  }, [props.open]);
  const closed = () => {
    if (closingForProp.current) {
      closingForProp.current = false;
      return;
    }
    if (props.open && !ref.current?.open) props.onCancel();
  };
  return (
    <dialog ref={ref} class="keys-dialog" aria-labelledby={titleId} onClose={closed}>
      <h2 id={titleId}>{props.title}</h2>
      <div class="keys-dialog-body">{props.children}</div>
      <div class="actions">
        <button type="button" class="danger" disabled={props.busy} onClick={props.onConfirm}>{props.busy ? 'Working…' : props.confirmLabel}</button>
        <button type="button" class="secondary" ref={cancelRef} onClick={props.onCancel}>Cancel</button>
      </div>
    </dialog>
  );
}
