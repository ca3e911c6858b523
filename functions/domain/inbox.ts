/**
 * The caller's inbox: list (newest first, optionally unread only), unread
 * count, mark one read, mark all read.
 *
 * The unread count is a consistent count of the unread flags themselves
 * (functions/domain/ports.ts InboxStore), not a counter kept beside them, so
 * no interleaving of marks and arrivals, and no crash between two writes, can
 * make it drift: it is exact at the moment it is read. Items expire
 * (INBOX_RETENTION_DAYS) and stop counting at the same instant they stop being
 * listed, whether or not DynamoDB's TTL has deleted them yet.
 *
 * A mark that changed something appends `notification.read` to the user's own
 * channel (durable, so a device that was offline recovers it like any entry),
 * with the unread count read after the entry's seq was reserved: every mark
 * that precedes an event in seq order is reflected in its count, so the
 * newest event always carries a count no older than any before it.
 */
import { INBOX_PAGE_MAX_LIMIT, NOTIFICATION_ID_PATTERN, NOTIFICATION_READ_EVENT, userChannel, type Notification } from '../../protocol/index.js';
import { READ_ALL_MAX, UNREAD_COUNT_MAX } from '../../protocol/http.js';
import { fillGap, publish, settle, WRITE_BUDGET_MS, expiry, type ChannelLogDeps } from './channel-log.js';
import { badRequest, notFound } from './errors.js';
import { newMessageId } from './ids.js';
import type { InboxItem, InboxStore, LogEntry } from './ports.js';

export interface InboxDeps extends ChannelLogDeps {
  inbox: InboxStore;
}

/** Flags one read-all round lowers (one Query, then BatchWriteItems of 25 at once). */
const READ_ALL_ROUND = 100;
/** Rounds one read-all makes at most: READ_ALL_MAX unexpired flags, with room for expired ones DynamoDB has not deleted yet. */
const READ_ALL_MAX_ROUNDS = 2 * (READ_ALL_MAX / READ_ALL_ROUND);
/** Read-all starts no round once this little is left before the deadline: the rest is for its event's write and publish. */
const READ_ALL_RESERVE_MS = WRITE_BUDGET_MS + 1_000;

export interface InboxListing {
  items: Notification[];
  nextCursor?: string;
}

export async function listNotifications(
  deps: Pick<InboxDeps, 'inbox' | 'now'>,
  input: { userId: string; unread: boolean; limit: number; cursor?: string },
): Promise<InboxListing> {
  const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor, input.unread);
  const page = await deps.inbox.list(input.userId, {
    limit: Math.min(input.limit, INBOX_PAGE_MAX_LIMIT),
    unread: input.unread,
    now: (deps.now ?? Date.now)(),
    ...(after !== undefined && { after }),
  });
  return { items: page.items.map(toNotification), ...(page.after !== undefined && { nextCursor: encodeCursor(page.after, input.unread) }) };
}

export async function unreadCount(deps: Pick<InboxDeps, 'inbox' | 'now'>, userId: string): Promise<{ unread: number }> {
  return { unread: await deps.inbox.countUnread(userId, (deps.now ?? Date.now)(), UNREAD_COUNT_MAX) };
}

/** Idempotent: marking a read notification again changes nothing and appends no event. 404 for an unknown (or expired) id. */
export async function markRead(deps: InboxDeps, userId: string, id: string): Promise<{ unread: number }> {
  const now = deps.now ?? Date.now;
  if (!(await deps.inbox.getItem(userId, id, now()))) throw notFound(`You have no notification ${id}`);
  if (!(await deps.inbox.clearUnread(userId, id))) return unreadCount(deps, userId);
  return appendReadEvent(deps, userId, { ids: [id] });
}

/**
 * Lowers the unread flags in rounds, up to READ_ALL_MAX and while the deadline
 * leaves time for its event; `more` when some may be left (call again).
 * Idempotent (nothing unread: no event). Notifications arriving meanwhile may stay unread.
 */
export async function markAllRead(deps: InboxDeps, userId: string): Promise<{ unread: number; more?: true }> {
  const now = deps.now ?? Date.now;
  const inTime = () => deps.deadline === undefined || now() < deps.deadline - READ_ALL_RESERVE_MS;
  let cleared = 0;
  let more = true;
  for (let round = 0; more && cleared < READ_ALL_MAX && round < READ_ALL_MAX_ROUNDS && inTime(); round++) {
    const done = await deps.inbox.clearSomeUnread(userId, Math.min(READ_ALL_ROUND, READ_ALL_MAX - cleared), now());
    cleared += done.cleared;
    more = done.more;
  }
  const { unread } = cleared === 0 ? await unreadCount(deps, userId) : await appendReadEvent(deps, userId, { all: true });
  return more ? { unread, more } : { unread };
}

/**
 * Appends `notification.read` with the count read after reserving its seq, by
 * the channel log's rules (put-if-empty; an unused seq is tombstoned; no write
 * past the deadline's budget). The mark is done either way: a failed append
 * only costs other devices the live update, which their next count fetch fixes.
 */
async function appendReadEvent(deps: InboxDeps, userId: string, what: { ids: string[] } | { all: true }): Promise<{ unread: number }> {
  const now = deps.now ?? Date.now;
  const channel = userChannel(userId);
  let seq: number;
  try {
    seq = await deps.channels.reserveSeq(channel, now());
  } catch {
    return unreadCount(deps, userId);
  }
  const unread = await deps.inbox.countUnread(userId, now(), UNREAD_COUNT_MAX).catch(() => null);
  if (unread === null || (deps.deadline !== undefined && now() > deps.deadline - (deps.writeBudgetMs ?? WRITE_BUDGET_MS))) {
    await fillGap(deps, channel, seq).catch(() => {});
    return unread === null ? unreadCount(deps, userId) : { unread };
  }
  const ts = now();
  const entry: LogEntry = { channel, seq, id: newMessageId(), event: NOTIFICATION_READ_EVENT, data: { ...what, unread }, ts, ...expiry(deps, ts) };
  if ((await settle(deps, entry)) === 'stored') await publish(deps, entry);
  return { unread };
}

function toNotification(item: InboxItem & { read: boolean }): Notification {
  return {
    id: item.id,
    type: item.type,
    title: item.title,
    body: item.body,
    ...(item.data !== undefined && { data: item.data }),
    createdAt: item.createdAt,
    read: item.read,
  };
}

/** Opaque to clients: which listing it belongs to, and the last id of the page. */
const encodeCursor = (id: string, unread: boolean) => Buffer.from(`${unread ? 'u' : 'a'}.${id}`).toString('base64url');

function decodeCursor(cursor: string, unread: boolean): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.slice(2);
  if (!text.startsWith(unread ? 'u.' : 'a.') || !NOTIFICATION_ID_PATTERN.test(id)) {
    throw badRequest(`query.cursor: not a cursor of this listing (unread=${unread}); pass the nextCursor it returned`);
  }
  return id;
}
