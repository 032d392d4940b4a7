import { useState } from 'preact/hooks';
import { formatBytes } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import {
  cancelUpload,
  clearFinished,
  discardBlockingUpload,
  itemPercent,
  pauseUpload,
  resumeUpload,
  uploads,
  uploadTotals,
  type UploadItem,
  type UploadState,
} from './upload-manager';

const STATE_LABEL: Record<UploadState, string> = {
  queued: 'Waiting',
  uploading: 'Uploading',
  paused: 'Paused',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

function UploadRow({ item }: { item: UploadItem }) {
  const value = itemPercent(item);
  const id = `upload-${item.id}`;
  const running = item.state === 'uploading' || item.state === 'queued';
  const [confirming, setConfirming] = useState(false);
  return (
    <li class={`upload-item upload-${item.state}`} data-upload-name={item.name} data-state={item.state}>
      <div class="upload-head">
        <span class="upload-name" id={`${id}-name`}>
          {item.name}
        </span>
        <span class="muted">{formatBytes(item.size)}</span>
        <span class="upload-state">{STATE_LABEL[item.state]}</span>
      </div>
      <div class="progress-row">
        <progress id={id} max={100} value={value} aria-label={`Upload of ${item.name}`} aria-valuetext={`${value} %`} />
        <span class="pct" aria-hidden="true">
          {value} %
        </span>
      </div>
      {item.error && (
        <p class="field-error upload-error" role="alert">
          {item.error}
        </p>
      )}
      {!item.resumable && running && (
        <small class="muted">This key reaches only this folder: the upload cannot be paused (resumable uploads need a key for the whole service).</small>
      )}
      {item.state !== 'done' && item.state !== 'cancelled' && (
        <div class="actions">
          {item.resumable && running && (
            <button type="button" class="secondary" onClick={() => pauseUpload(item.id)} aria-label={`Pause ${item.name}`}>
              Pause
            </button>
          )}
          {item.state === 'paused' && (
            <button type="button" class="secondary" onClick={() => resumeUpload(item.id)} aria-label={`Resume ${item.name}`}>
              Resume
            </button>
          )}
          {item.state === 'failed' && item.blockedBy && (
            <button
              type="button"
              class="secondary"
              onClick={() => setConfirming(true)}
              aria-label={`Discard the other upload of ${item.name} and send this one`}
            >
              Discard the other upload
            </button>
          )}
          {item.state === 'failed' && (
            <button type="button" class="secondary" onClick={() => resumeUpload(item.id)} aria-label={`Retry ${item.name}`}>
              Retry
            </button>
          )}
          <button type="button" class="secondary danger-text" onClick={() => cancelUpload(item.id)} aria-label={`Cancel ${item.name}`}>
            Cancel
          </button>
        </div>
      )}
      <ConfirmDialog
        open={confirming}
        title={`Discard the other upload of ${item.name}?`}
        confirmLabel="Discard it and send mine"
        busyLabel="Discarding…"
        onConfirm={async () => {
          await discardBlockingUpload(item.id);
          setConfirming(false);
        }}
        onClose={() => setConfirming(false)}
      >
        <p>
          An unfinished upload of “{item.name}” into this folder holds the name: it may be running in another tab or browser, perhaps someone else’s. Its bytes
          are deleted and it cannot be resumed; this file is sent instead.
        </p>
      </ConfirmDialog>
    </li>
  );
}

/** Every upload of this tab with its progress; pause, resume, retry and cancel each one. */
export function UploadPanel() {
  const items = uploads.value;
  if (items.length === 0) return null;
  const totals = uploadTotals.value;
  const finished = items.some((item) => item.state === 'done' || item.state === 'failed' || item.state === 'cancelled');
  return (
    <section class="upload-panel" aria-labelledby="uploads-title">
      <header>
        <h3 id="uploads-title">Uploads</h3>
        {finished && (
          <button type="button" class="link" onClick={clearFinished}>
            Clear finished
          </button>
        )}
      </header>
      <div class="upload-overall">
        <label for="upload-overall" class="overall-label">
          All uploads: {totals.done} of {totals.files} files, {formatBytes(totals.sent)} of {formatBytes(totals.size)}
        </label>
        <div class="progress-row">
          <progress id="upload-overall" max={100} value={totals.percent} aria-valuetext={`${totals.percent} %`} />
          <span class="pct" aria-hidden="true">
            {totals.percent} %
          </span>
        </div>
        <p class="sr-only" role="status" aria-live="polite">
          {totals.active === 0 ? `${totals.done} of ${totals.files} files uploaded${totals.failed ? `, ${totals.failed} failed` : ''}.` : ''}
        </p>
      </div>
      <ul class="upload-list">
        {items.map((item) => (
          <UploadRow key={item.id} item={item} />
        ))}
      </ul>
    </section>
  );
}
