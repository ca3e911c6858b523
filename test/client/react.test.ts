/**
 * The React entry without a DOM: server rendering runs the provider and the
 * hooks' first render (effects need a browser: test/browser/react-hooks.test.ts
 * runs them in Chromium, and the demo's tests use them too).
 */
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Townsquare } from '../../client/src/index.js';
import { TownsquareProvider, useChannel, useConnectionState, usePresence, useTownsquare } from '../../client/src/react.js';
import { NodeWebSocket } from '../helpers/sdk-harness.js';

const client = () => new Townsquare({ relayUrls: 'ws://127.0.0.1:1/ws', apiUrl: 'http://127.0.0.1:1', getToken: async () => 't', WebSocket: NodeWebSocket, browserEvents: false });

function Status() {
  const state = useConnectionState();
  const { messages, state: sub } = useChannel('room:r1');
  const members = usePresence('room:r1');
  return createElement('p', null, `${useTownsquare().state}/${state}/${sub}/${messages.length}/${members.length}`);
}

describe('@townsquare/client/react', () => {
  it('gives the hooks the provider’s client and its state', () => {
    const ts = client();
    expect(renderToString(createElement(TownsquareProvider, { client: ts }, createElement(Status)))).toBe('<p>disconnected/disconnected/unsubscribed/0/0</p>');
    ts.close();
    expect(renderToString(createElement(TownsquareProvider, { client: ts }, createElement(Status)))).toBe('<p>closed/closed/unsubscribed/0/0</p>');
  });

  it('says what is missing when there is no provider', () => {
    expect(() => renderToString(createElement(Status))).toThrow(/TownsquareProvider/);
  });
});
