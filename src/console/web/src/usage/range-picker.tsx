import { useId, useLayoutEffect, useState } from 'preact/hooks';
import { Bucket, bucketChoices, defaultBucket, Preset, PRESETS, RangeChoice, resolveRange, utcInput } from './range';

const BUCKET_LABEL: Record<Bucket, string> = { hour: 'Hour', day: 'Day', month: 'Month' };

/**
 * Time range and bucket. A preset applies at once; a custom range applies with its button, after its dates are
 * checked here (the field at fault says why). Times are UTC, as the API's buckets are.
 */
export function RangePicker({
  choice,
  onChange,
  onRefresh,
  busy,
}: {
  choice: RangeChoice;
  onChange: (choice: RangeChoice) => void;
  onRefresh: () => void;
  busy: boolean;
}) {
  const id = useId();
  const [draft, setDraft] = useState<RangeChoice>(choice);
  const [checked, setChecked] = useState(false);
  // in the commit that shows a new applied choice, not after the paint: a pick made in between (custom, right after
  // a preset was applied) would otherwise be overwritten by the late sync (seen in a full run of console-usage)
  useLayoutEffect(() => setDraft(choice), [choice.preset, choice.bucket, choice.from, choice.to]);
  const problem = draft.preset === 'custom' && checked ? resolveRange(draft, new Date()) : null;
  const error = problem && !problem.ok ? problem : null;

  const pickPreset = (preset: Preset) => {
    const bucket = bucketChoices(preset).includes(draft.bucket) ? draft.bucket : defaultBucket(preset);
    if (preset === 'custom') {
      // start from what is shown, so the person only adjusts it
      const shown = resolveRange(choice, new Date());
      const from = draft.from ?? (shown.ok ? utcInput(shown.from) : '');
      const to = draft.to ?? (shown.ok ? utcInput(shown.to) : '');
      setDraft({ preset, bucket, from, to });
      setChecked(false);
      return;
    }
    onChange({ preset, bucket });
  };
  const pickBucket = (bucket: Bucket) => {
    if (draft.preset === 'custom') setDraft({ ...draft, bucket });
    else onChange({ preset: draft.preset, bucket });
  };
  const apply = (event: Event) => {
    event.preventDefault();
    setChecked(true);
    const resolved = resolveRange(draft, new Date());
    if (resolved.ok) onChange(draft);
  };

  return (
    <form class="range-picker" onSubmit={apply} aria-label="Range and bucket of the charts">
      <label>
        Time range
        <select value={draft.preset} onChange={(event) => pickPreset((event.target as HTMLSelectElement).value as Preset)}>
          {PRESETS.map((preset) => (
            <option key={preset.id} value={preset.id}>
              {preset.label}
            </option>
          ))}
        </select>
      </label>
      {draft.preset === 'custom' && (
        <>
          <label>
            From (UTC)
            <input
              type="datetime-local"
              required
              value={draft.from ?? ''}
              aria-invalid={error?.field === 'from' ? 'true' : undefined}
              aria-describedby={`${id}-error`}
              onInput={(event) => setDraft({ ...draft, from: (event.target as HTMLInputElement).value })}
            />
          </label>
          <label>
            To (UTC)
            <input
              type="datetime-local"
              required
              value={draft.to ?? ''}
              aria-invalid={error?.field === 'to' ? 'true' : undefined}
              aria-describedby={`${id}-error`}
              onInput={(event) => setDraft({ ...draft, to: (event.target as HTMLInputElement).value })}
            />
          </label>
        </>
      )}
      <label>
        Bucket
        <select
          value={draft.bucket}
          aria-invalid={error?.field === 'bucket' ? 'true' : undefined}
          aria-describedby={`${id}-error`}
          onChange={(event) => pickBucket((event.target as HTMLSelectElement).value as Bucket)}
        >
          {bucketChoices(draft.preset).map((bucket) => (
            <option key={bucket} value={bucket}>
              {BUCKET_LABEL[bucket]}
            </option>
          ))}
        </select>
      </label>
      <div class="actions">
        {draft.preset === 'custom' && <button type="submit">Apply</button>}
        <button type="button" class="secondary" onClick={onRefresh} disabled={busy}>
          {busy ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      <p id={`${id}-error`} class="field-error range-error" role={error ? 'alert' : undefined}>
        {error?.error ?? ''}
      </p>
    </form>
  );
}
