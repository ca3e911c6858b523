import { useEffect, useState } from 'react';
import { Townsquare, type WebSocketConstructor } from '@townsquare/client';
import { TownsquareProvider } from '@townsquare/client/react';
import { chooseRelay, type DemoConfig } from './config';
import { SessionContext, type Session } from './context';
import { preferRelay } from './relay-preference';
import { fetchDevToken, saveUser, savedUser } from './session';
import { UserPicker } from './components/UserPicker';
import { Workspace } from './components/Workspace';

export function App({ config }: { config: DemoConfig }) {
  const [user, setUser] = useState<string | null>(savedUser);
  if (!user) {
    return (
      <UserPicker
        onPick={(userId) => {
          saveUser(userId);
          setUser(userId);
        }}
      />
    );
  }
  return (
    <SignedIn
      key={user}
      config={config}
      me={user}
      onSignOut={() => {
        saveUser(null);
        setUser(null);
      }}
    />
  );
}

/** One SDK client per signed-in user, connected for as long as they are. */
function SignedIn({ config, me, onSignOut }: { config: DemoConfig; me: string; onSignOut: () => void }) {
  const [session] = useState<Session>(() => {
    const relay = chooseRelay(config.relayUrls);
    const relays = preferRelay(relay.url);
    const client = new Townsquare({
      relayUrls: config.relayUrls,
      apiUrl: config.apiUrl,
      getToken: () => fetchDevToken(me),
      // The DOM's WebSocket types its handlers' event as Event, the SDK's WebSocketLike as unknown: same object, stricter type.
      WebSocket: relays.WebSocket as unknown as WebSocketConstructor,
    });
    return { me, client, relay: relay.index, relayUrls: config.relayUrls, relays };
  });

  useEffect(() => {
    session.client.connect();
    return () => session.client.close();
  }, [session]);

  return (
    <SessionContext.Provider value={session}>
      <TownsquareProvider client={session.client}>
        <Workspace onSignOut={onSignOut} />
      </TownsquareProvider>
    </SessionContext.Provider>
  );
}
