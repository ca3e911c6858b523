import { useState, type FormEvent } from 'react';
import { Dialog } from './Dialog';

interface NewRoomDialogProps {
  open: boolean;
  onClose: () => void;
  onCreate: (name: string) => Promise<void>;
}

export function NewRoomDialog({ open, onClose, onCreate }: NewRoomDialogProps) {
  return (
    <Dialog open={open} onClose={onClose} title="Create a room" description="Rooms are where conversations happen. You can invite people once it exists." testId="new-room-dialog">
      <NewRoomForm onClose={onClose} onCreate={onCreate} />
    </Dialog>
  );
}

function NewRoomForm({ onClose, onCreate }: Omit<NewRoomDialogProps, 'open'>) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onCreate(name.trim());
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
        <span className="field-label">Name</span>
        <span className="input-with-prefix">
          <span aria-hidden="true">#</span>
          <input
            autoFocus
            required
            maxLength={100}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="e.g. launch-plan"
            data-testid="new-room-name"
          />
        </span>
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
        <button type="submit" className="button button-primary" disabled={busy || !name.trim()} data-testid="new-room-submit">
          {busy ? 'Creating…' : 'Create room'}
        </button>
      </div>
    </form>
  );
}
