/** Display helpers: names, initials, colours and times, all derived from data the API returns. */

const AVATAR_COLOURS = ['#6d5efc', '#e5484d', '#12a594', '#f76b15', '#3e63dd', '#d6409f', '#2b9a66', '#8e4ec6', '#0090ff', '#ad7f58'];

/** A stable colour per user id, so one user looks the same on every screen. */
export function colourFor(userId: string): string {
  let hash = 0;
  for (let i = 0; i < userId.length; i++) hash = (hash * 31 + userId.charCodeAt(i)) >>> 0;
  return AVATAR_COLOURS[hash % AVATAR_COLOURS.length]!;
}

/** "alice" → "Alice", "dave.smith" → "Dave Smith". */
export function displayName(userId: string): string {
  return userId
    .split(/[._\-+]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join(' ') || userId;
}

/** "alice" → "A", "dave.smith" → "DS". */
export function initials(userId: string): string {
  const words = displayName(userId).split(' ');
  return (words.length > 1 ? words[0]![0]! + words[1]![0]! : words[0]![0]!).toUpperCase();
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });

export function clockTime(at: number | string): string {
  return timeFormat.format(new Date(at));
}

export function dayLabel(at: number | string, now = Date.now()): string {
  const day = new Date(at).toDateString();
  if (day === new Date(now).toDateString()) return 'Today';
  if (day === new Date(now - 86_400_000).toDateString()) return 'Yesterday';
  return dayFormat.format(new Date(at));
}

/** "just now", "5m", "3h", then the date. */
export function relativeTime(at: number | string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - new Date(at).getTime()) / 1000));
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)}h`;
  return dayFormat.format(new Date(at));
}

/** "alice", "alice and bob", "alice, bob and 2 others". */
export function listNames(userIds: string[]): string {
  const names = userIds.map(displayName);
  if (names.length <= 2) return names.join(' and ');
  return `${names.slice(0, 2).join(', ')} and ${names.length - 2} others`;
}
