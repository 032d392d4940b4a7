import type { ComponentChildren } from 'preact';
import { useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';

/**
 * Asks before something that cannot be undone. A native modal <dialog>: focus moves into it and stays there,
 * Escape cancels, and focus returns to the button that opened it. The action's error is shown inside it.
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  busyLabel: string;
  /** The button that closes without acting (default "Cancel"). */
  dismissLabel?: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // a page may hold several (one per upload row): each names itself
  const titleId = `confirm-title-${useId()}`;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // the dialog opens and closes in the commit that changes `open`, not after the paint
  const closingForProp = useRef(false);
  useLayoutEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) {
      setError(null);
      dialog.showModal();
    } else if (!props.open && dialog.open) {
      closingForProp.current = true;
      dialog.close();
    }
  }, [props.open]);
  // 'close' is dispatched a task later. Only a close the dialog made itself (Escape) is news to the page; the one
  // that follows closing it for `open` is not, and it must not close the dialog again if the page reopened it in
  // between (a job cancelled, then at once asked to be deleted: seen in a loaded full run)
  const closed = () => {
    if (closingForProp.current) {
      closingForProp.current = false;
      return;
    }
    if (!ref.current?.open) props.onClose();
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="confirm-dialog" aria-labelledby={titleId} onClose={closed} onCancel={(event) => busy && event.preventDefault()}>
      <h2 id={titleId}>{props.title}</h2>
      <div class="confirm-body">{props.children}</div>
      {error ? (
        <div class="notice error" role="alert">
          {describeError(error)}
        </div>
      ) : null}
      <div class="actions">
        <button type="button" class="danger" onClick={confirm} disabled={busy}>
          {busy ? props.busyLabel : props.confirmLabel}
        </button>
        <button type="button" class="secondary" onClick={props.onClose} disabled={busy} autofocus>
          {props.dismissLabel ?? 'Cancel'}
        </button>
      </div>
    </dialog>
  );
}
