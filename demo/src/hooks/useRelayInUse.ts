import { useSyncExternalStore } from 'react';
import { useSession } from '../context';

/** The 1-based number of the relay the socket last opened to (null before the first). */
export function useRelayInUse(): number | null {
  const { relays, relayUrls } = useSession();
  const url = useSyncExternalStore(relays.onChange, relays.current);
  return url === null ? null : relayUrls.indexOf(url) + 1;
}
