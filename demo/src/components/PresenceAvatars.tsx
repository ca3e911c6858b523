import { usePresence } from '@townsquare/client/react';
import { displayName, listNames } from '../format';
import { Avatar } from './Avatar';

const SHOWN = 4;

/** Who is in the room right now (one avatar per user, however many tabs they have open). */
export function PresenceAvatars({ channel }: { channel: string }) {
  return <PresenceList members={usePresence(channel)} />;
}

/** The avatars of `members` (user ids), as PresenceAvatars shows them. */
export function PresenceList({ members: unsorted }: { members: readonly string[] }) {
  const members = [...unsorted].sort();
  if (members.length === 0) return null;
  const extra = members.length - SHOWN;
  return (
    <div className="presence" role="group" aria-label={`Here now: ${listNames(members)}`} data-testid="presence" data-members={members.join(',')}>
      {members.slice(0, SHOWN).map((userId) => (
        <span key={userId} className="presence-item" title={`${displayName(userId)} is here`} data-testid="presence-avatar" data-user-id={userId}>
          <Avatar userId={userId} size="sm" online decorative />
        </span>
      ))}
      {extra > 0 && <span className="presence-more" aria-hidden="true">+{extra}</span>}
    </div>
  );
}
