import { useCallback, useEffect, useRef, useState } from 'react';
import type { RoomSummary } from '@townsquare/client';
import { useSession } from '../context';

/**
 * The caller's rooms. Being added to a room is not pushed to the invitee
 * (there is no membership event on `user:` channels), so the list is refreshed
 * every few seconds while the tab is visible, and whenever asked.
 */
const POLL_MS = 4000;
/** The API's page size cap; the demo shows at most this many rooms. */
const PAGE_LIMIT = 100;

export function useRooms() {
  const { client } = useSession();
  const [rooms, setRooms] = useState<RoomSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const inFlight = useRef(false);

  const refresh = useCallback(async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    try {
      const page = await client.rooms.list({ limit: PAGE_LIMIT });
      setRooms([...page.rooms].sort((a, b) => a.name.localeCompare(b.name)));
      setError(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      inFlight.current = false;
    }
  }, [client]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void refresh();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  return { rooms, error, refresh };
}
