import { useState, type FormEvent } from 'react';
import { DEV_USERS } from '../session';
import { displayName } from '../format';
import { USER_ID_PATTERN as USER_ID } from '../../../protocol/channels.js';
import { Avatar } from './Avatar';

/** First screen: choose a dev user. The local stack mints their token; a real app would sign in here. */
export function UserPicker({ onPick }: { onPick: (userId: string) => void }) {
  const [custom, setCustom] = useState('');
  const valid = USER_ID.test(custom.trim());

  function submit(e: FormEvent) {
    e.preventDefault();
    if (valid) onPick(custom.trim());
  }

  return (
    <main className="picker" data-testid="user-picker">
      <div className="picker-card">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Townsquare
        </div>
        <h1>Who are you today?</h1>
        <p className="muted">Pick a teammate to sign in as. Open a second window as someone else to chat between them.</p>
        <ul className="picker-users" aria-label="Dev users">
          {DEV_USERS.map((user) => (
            <li key={user.id}>
              <button type="button" className="picker-user" onClick={() => onPick(user.id)} data-testid={`pick-user-${user.id}`}>
                <Avatar userId={user.id} size="lg" decorative />
                <span className="picker-user-text">
                  <span className="picker-user-name">{displayName(user.id)}</span>
                  <span className="muted">{user.role}</span>
                </span>
              </button>
            </li>
          ))}
        </ul>
        <form className="picker-custom" onSubmit={submit}>
          <label htmlFor="custom-user" className="field-label">
            Or any user id
          </label>
          <div className="picker-custom-row">
            <input id="custom-user" value={custom} onChange={(e) => setCustom(e.target.value)} placeholder="e.g. frank" autoComplete="off" maxLength={128} />
            <button type="submit" className="button button-primary" disabled={!valid}>
              Continue
            </button>
          </div>
        </form>
        <p className="picker-note">
          <span className="badge-dev">Dev only</span> Tokens come from the local stack's dev issuer through <code>POST /dev/token</code>, which exists only in <code>npm start</code>.
        </p>
      </div>
    </main>
  );
}
