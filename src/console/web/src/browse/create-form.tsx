import { useState } from 'preact/hooks';
import { api } from '../api';
import { Card, ErrorNotice } from '../components/ui';
import { nameProblem } from './files';
import { describedBy, Field } from './widgets';

/**
 * A card with a form that creates a named thing (a container, a service): a checked name, an optional description,
 * POSTed to `path`; the form empties itself and hands what the API returned to `onCreated`.
 */
export function CreateNamedForm<T>({
  title,
  path,
  inputId,
  nameLabel,
  submitLabel,
  onCreated,
}: {
  title: string;
  path: string;
  inputId: string;
  nameLabel: string;
  submitLabel: string;
  onCreated: (created: T) => void;
}) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const reason = nameProblem(name);
    setProblem(reason);
    if (reason) return;
    setBusy(true);
    try {
      const created = await api<T>(path, { method: 'POST', body: { name, ...(description.trim() ? { description: description.trim() } : {}) } });
      setName('');
      setDescription('');
      setError(null);
      onCreated(created);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={title}>
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      <form class="inline" onSubmit={submit} noValidate>
        <Field id={inputId} label={nameLabel} error={problem}>
          <input {...describedBy(inputId, problem)} value={name} required maxLength={255} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </Field>
        <label>
          Description <small>(optional)</small>
          <input value={description} maxLength={4000} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : submitLabel}
        </button>
      </form>
    </Card>
  );
}
