/**
 * Mentions in chat text. Syntax (docs/http-api.md): `@` followed by a user id
 * (the characters of USER_ID_PATTERN: A-Z a-z 0-9 _ | @ . : + -, at most 128,
 * starting with a letter, digit or `_`),
 * where the `@` starts the text or follows a character that cannot be part of
 * an id (so `bob@example.com` in running text mentions nobody). Trailing `.`,
 * `:` and `-` are punctuation, not part of the id (`thanks @alice.` mentions
 * `alice`). At most MAX_MENTIONS distinct ids per message count; the rest are
 * ignored. Only members of the room other than the sender are notified.
 */
import { roomChannel } from '../../protocol/index.js';
import { MAX_NOTIFICATION_BODY_LENGTH, type ChatMessage } from '../../protocol/http.js';
import { notify, type NotifyDeps, type NotifyOutcome } from './notifications.js';
import type { RoomStore } from './ports.js';

export const MAX_MENTIONS = 20;
export const MENTION_TYPE = 'mention';

const MENTION = /(?<![A-Za-z0-9_|@.:+-])@([A-Za-z0-9_][A-Za-z0-9_|@.:+-]{0,128})/g;

/** The distinct ids mentioned in `text`, in order of first mention, at most MAX_MENTIONS. */
export function parseMentions(text: string): string[] {
  const ids = new Set<string>();
  for (const match of text.matchAll(MENTION)) {
    const id = match[1]!.replace(/[.:-]+$/, '');
    // A run longer than any id is not a mention (it would otherwise be cut into one).
    if (id.length === 0 || id.length > 128) continue;
    ids.add(id);
    if (ids.size === MAX_MENTIONS) break;
  }
  return [...ids];
}

/**
 * Notifies the members a message mentions (type `mention`, data `{roomId,
 * messageId, seq}`) through the notification path. Idempotent per message:
 * the ids derive from the message id and time, so a retried send (or a replay)
 * notifies nobody twice. Null when the text mentions no one who may be notified.
 */
export async function notifyMentions(deps: NotifyDeps & { rooms: RoomStore }, message: ChatMessage): Promise<NotifyOutcome | null> {
  const candidates = parseMentions(message.text).filter((id) => id !== message.userId);
  if (candidates.length === 0) return null;
  const members = await deps.rooms.membersAmong(message.roomId, candidates);
  const userIds = candidates.filter((id) => members.has(id));
  if (userIds.length === 0) return null;
  return notify(deps, {
    userIds,
    type: MENTION_TYPE,
    title: `${message.userId} mentioned you`,
    body: truncate(message.text, MAX_NOTIFICATION_BODY_LENGTH),
    data: { roomId: message.roomId, messageId: message.id, seq: message.seq, channel: roomChannel(message.roomId) },
    namespace: `mention:${message.roomId}`,
    idempotencyKey: message.id,
    createdAt: Date.parse(message.createdAt),
  });
}

/** At most `max` code units, never cutting a surrogate pair in two. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}
