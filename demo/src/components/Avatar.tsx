import { colourFor, displayName, initials } from '../format';

interface AvatarProps {
  userId: string;
  size?: 'sm' | 'md' | 'lg';
  /** Show a green dot: the user is here now. */
  online?: boolean;
  /** Decorative when the name is written next to it. */
  decorative?: boolean;
}

export function Avatar({ userId, size = 'md', online, decorative }: AvatarProps) {
  return (
    <span
      className={`avatar avatar-${size}`}
      style={{ background: colourFor(userId) }}
      {...(decorative ? { 'aria-hidden': true } : { role: 'img', 'aria-label': displayName(userId), title: displayName(userId) })}
    >
      {initials(userId)}
      {online && <span className="avatar-online" aria-hidden="true" />}
    </span>
  );
}
