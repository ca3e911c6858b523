import { useCallback, useEffect, useRef, useState } from 'react';
import type { Notification } from '@townsquare/client';
import { useConnectionState } from '@townsquare/client/react';
import { useSession } from '../context';

const INBOX_LIMIT = 20;
/** After a burst of notification events, the count is read back once from the server. */
const RESYNC_DELAY_MS = 500;

/**
 * The bell's state: the unread count (fetched, then kept live from the
 * `user:{me}` channel's `notification` and `notification.read` events), and
 * the newest notifications, loaded when the inbox opens. A new notification
 * counts at once, and the count is then read back from the server, since
 * after a reconnect the SDK also delivers the events missed meanwhile, which a
 * count fetched on reconnect may already include.
 */
export function useNotifications() {
  const { client } = useSession();
  const connection = useConnectionState();
  const [unread, setUnread] = useState(0);
  const [items, setItems] = useState<Notification[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [page, count] = await Promise.all([client.notifications.list({ limit: INBOX_LIMIT }), client.notifications.unreadCount()]);
      setItems(page.items);
      setUnread(count);
      setError(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }, [client]);

  // The count on every (re)connect: events missed while away are in the channel's history, but a fresh count is simplest.
  useEffect(() => {
    if (connection !== 'connected') return;
    client.notifications.unreadCount().then(setUnread, () => {});
  }, [client, connection]);

  const resync = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    const offNew = client.notifications.on('notification', (n) => {
      setItems((list) => (list && !list.some((x) => x.id === n.id) ? [n, ...list].slice(0, INBOX_LIMIT) : list));
      if (!n.read) setUnread((u) => u + 1);
      if (resync.current) clearTimeout(resync.current);
      resync.current = setTimeout(() => {
        resync.current = null;
        client.notifications.unreadCount().then(setUnread, () => {});
      }, RESYNC_DELAY_MS);
    });
    const offRead = client.notifications.on('read', (event) => {
      setUnread(event.unread);
      setItems((list) => list?.map((n) => ('all' in event || event.ids.includes(n.id) ? { ...n, read: true } : n)) ?? null);
    });
    return () => {
      offNew();
      offRead();
      if (resync.current) clearTimeout(resync.current);
    };
  }, [client]);

  const markRead = useCallback(
    async (id: string) => {
      setItems((list) => list?.map((n) => (n.id === id ? { ...n, read: true } : n)) ?? null);
      const result = await client.notifications.markRead(id);
      setUnread(result.unread);
    },
    [client],
  );

  const markAllRead = useCallback(async () => {
    setItems((list) => list?.map((n) => ({ ...n, read: true })) ?? null);
    setUnread(0);
    const result = await client.notifications.markAllRead();
    setUnread(result.unread);
  }, [client]);

  return { unread, items, error, load, markRead, markAllRead };
}
