import { useEffect, useRef, useState } from 'react';
import type { ConnectionState } from '@townsquare/client';
import { useConnectionState } from '@townsquare/client/react';

type Shown = 'connected' | 'connecting' | 'reconnecting' | 'offline';

const LABELS: Record<Shown, string> = {
  connected: 'Connected',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

/** What to tell the user: the SDK's state, plus whether we were ever connected and whether the browser is online. */
function shown(state: ConnectionState, everConnected: boolean, online: boolean): Shown {
  if (state === 'connected') return 'connected';
  if (state === 'closed' || !online) return 'offline';
  return everConnected ? 'reconnecting' : 'connecting';
}

function useBrowserOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);
  return online;
}

function useShownConnection(): Shown {
  const state = useConnectionState();
  const online = useBrowserOnline();
  const everConnected = useRef(false);
  if (state === 'connected') everConnected.current = true;
  return shown(state, everConnected.current, online);
}

export function ConnectionPill({ relay }: { relay: number }) {
  const value = useShownConnection();
  return (
    <span className={`pill pill-${value}`} role="status" data-testid="connection-status" data-state={value} title={`Preferred relay: ${relay}`}>
      <span className="pill-dot" aria-hidden="true" />
      {LABELS[value]}
    </span>
  );
}

/** A strip over the conversation while the connection is lost (the pill is in the sidebar, off screen on phones). */
export function ConnectionBanner() {
  const value = useShownConnection();
  if (value !== 'reconnecting' && value !== 'offline') return null;
  return (
    <div className={`banner banner-${value}`} data-testid="connection-banner">
      <span className="pill-dot" aria-hidden="true" />
      {value === 'offline' ? "You're offline." : 'Reconnecting…'} Messages you send now go out when the connection is back.
    </div>
  );
}
