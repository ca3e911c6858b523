import { useState, type FormEvent } from 'react';
import { Dialog } from './Dialog';

interface NewDocumentDialogProps {
  open: boolean;
  onClose: () => void;
  onCreate: (title: string) => Promise<void>;
}

export function NewDocumentDialog({ open, onClose, onCreate }: NewDocumentDialogProps) {
  return (
    <Dialog open={open} onClose={onClose} title="Create a document" description="A shared text that everyone you add can edit at the same time, cursors and all." testId="new-document-dialog">
      <NewDocumentForm onClose={onClose} onCreate={onCreate} />
    </Dialog>
  );
}

function NewDocumentForm({ onClose, onCreate }: Omit<NewDocumentDialogProps, 'open'>) {
  const [title, setTitle] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onCreate(title.trim());
      onClose();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="form">
      <label className="field">
        <span className="field-label">Title</span>
        <input
          autoFocus
          required
          maxLength={200}
          value={title}
          onChange={(e) => setTitle(e.target.value)}
          placeholder="e.g. Launch plan"
          data-testid="new-document-title"
        />
      </label>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button type="button" className="button button-ghost" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={busy || !title.trim()} data-testid="new-document-submit">
          {busy ? 'Creating…' : 'Create document'}
        </button>
      </div>
    </form>
  );
}
