import { useEffect, useState } from 'react';
import { Townsquare } from '@townsquare/client';
import { TownsquareProvider } from '@townsquare/client/react';
import { chooseRelay, type DemoConfig } from './config';
import { SessionContext, type Session } from './context';
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
    const client = new Townsquare({
      // The tab's relay first, then the others in turn when it fails.
      relayUrls: [relay.url, ...config.relayUrls.filter((url) => url !== relay.url)],
      relayOrder: 'given',
      apiUrl: config.apiUrl,
      getToken: () => fetchDevToken(me),
    });
    return { me, client, relay: relay.index, relayUrls: config.relayUrls };
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
