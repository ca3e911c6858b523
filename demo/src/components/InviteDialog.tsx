import { useId, useState, type FormEvent } from 'react';
import { DEV_USERS } from '../session';
import { displayName } from '../format';
import { Avatar } from './Avatar';
import { Dialog } from './Dialog';

interface InviteDialogProps {
  open: boolean;
  roomName: string;
  /** What is shared: a room (the default) or a document. */
  kind?: 'room' | 'document';
  me: string;
  onClose: () => void;
  onInvite: (userId: string) => Promise<void>;
}

export function InviteDialog({ open, roomName, kind = 'room', me, onClose, onInvite }: InviteDialogProps) {
  const title = kind === 'room' ? `Invite to #${roomName}` : `Share “${roomName}”`;
  const description =
    kind === 'room' ? "Add someone by their user id. They can read the room's history and post right away." : 'Add a collaborator by their user id. They can open and edit the document right away.';
  return (
    <Dialog open={open} onClose={onClose} title={title} description={description} testId="invite-dialog">
      <InviteForm me={me} kind={kind} onInvite={onInvite} />
    </Dialog>
  );
}

function InviteForm({ me, kind, onInvite }: Pick<InviteDialogProps, 'me' | 'onInvite'> & { kind: 'room' | 'document' }) {
  const [userId, setUserId] = useState('');
  const [status, setStatus] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const listId = useId();

  async function invite(target: string) {
    setBusy(true);
    setStatus(null);
    try {
      await onInvite(target);
      setStatus({ kind: 'ok', text: `${displayName(target)} can now see this ${kind}.` });
      setUserId('');
    } catch (err) {
      setStatus({ kind: 'error', text: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    const target = userId.trim();
    if (target) void invite(target);
  }

  const suggestions = DEV_USERS.filter((u) => u.id !== me);
  return (
    <form onSubmit={submit} className="form">
      <label className="field">
        <span className="field-label">User id</span>
        <input autoFocus required value={userId} onChange={(e) => setUserId(e.target.value)} list={listId} placeholder="e.g. bob" autoComplete="off" data-testid="invite-user-id" />
        <datalist id={listId}>
          {suggestions.map((u) => (
            <option key={u.id} value={u.id} />
          ))}
        </datalist>
      </label>
      <div className="chip-row" role="group" aria-label="Suggested people">
        {suggestions.map((u) => (
          <button key={u.id} type="button" className="chip" onClick={() => setUserId(u.id)}>
            <Avatar userId={u.id} size="sm" decorative />
            {displayName(u.id)}
          </button>
        ))}
      </div>
      {status && (
        <p className={status.kind === 'ok' ? 'form-success' : 'form-error'} role={status.kind === 'ok' ? 'status' : 'alert'} data-testid="invite-status">
          {status.text}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy || !userId.trim()} data-testid="invite-submit">
          {busy ? 'Adding…' : `Add to ${kind}`}
        </button>
      </div>
    </form>
  );
}
