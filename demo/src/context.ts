import { createContext, useContext } from 'react';
import type { Townsquare } from '@townsquare/client';

/** The signed-in user and their SDK client, for components that call the HTTP API. */
export interface Session {
  me: string;
  client: Townsquare;
  /** 1-based number of the relay this tab prefers. */
  relay: number;
  relayUrls: string[];
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside <SessionContext.Provider>');
  return session;
}
