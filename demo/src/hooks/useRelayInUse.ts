import { useSyncExternalStore } from 'react';
import { useSession } from '../context';

/** The 1-based number of the relay the connection is on, or was on last (null before the first). */
export function useRelayInUse(): number | null {
  const { client, relayUrls } = useSession();
  // The SDK sets relayUrl before it emits the `connected` state.
  const url = useSyncExternalStore(
    (onChange) => client.on('state', onChange),
    () => client.relayUrl,
  );
  return url === undefined ? null : relayUrls.indexOf(url) + 1;
}
