/**
 * THE GUARANTEE after a long absence: a client offline (no socket, no HTTP)
 * for longer than any resume window — over 60 s of messages — comes back and
 * gets every message it missed from history, exactly once, in order, while
 * a client that stayed online saw the same list live.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { Townsquare, type FetchLike } from '../../client/src/index.js';
import { createRoom, NodeWebSocket, publish, RecordingClient, report, startSilenceableProxy, waitForAll } from '../helpers/sdk-harness.js';

const COUNT = 520;
const INTERVAL_MS = 125; // 8 messages/s: 65 s of stream
const OFFLINE_FROM = 16; // message number at which the client goes offline (2 s in)
const OFFLINE_MS = 62_000;

let stack: LocalStack;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json' });
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await stack?.stop();
});

it('a client offline for over 60 s of messages comes back to exactly m1..mN', async () => {
  const roomId = await createRoom(stack, 'alice', ['bob', 'carol'], 'offline');
  // The traveller reaches the relay through a proxy that can cut its link, and the API through a fetch that can fail.
  const proxy = await startSilenceableProxy(Number(new URL(stack.relayUrls[0]!).port));
  cleanups.push(() => proxy.close());
  let offline = false;
  const offlineFetch: FetchLike = (url, init) => (offline ? Promise.reject(new TypeError('fetch failed: offline')) : (globalThis.fetch as unknown as FetchLike)(url, init));
  const traveller = new RecordingClient(
    'bob-offline',
    { relayUrls: [proxy.wsUrl], apiUrl: stack.apiUrl, fetch: offlineFetch, getToken: () => (offline ? Promise.reject(new Error('offline')) : stack.issuer.mint('bob')), backoff: { minDelayMs: 200, maxDelayMs: 2000 }, heartbeat: { intervalMs: 2000, timeoutMs: 2000 } },
    `room:${roomId}`,
  );
  const stayer = new RecordingClient('carol-online', { relayUrls: [stack.relayUrls[1]!], apiUrl: stack.apiUrl, getToken: () => stack.issuer.mint('carol') }, `room:${roomId}`);
  cleanups.push(() => traveller.client.close(), () => stayer.client.close());
  const deadline = Date.now() + 15_000;
  while ((traveller.subscribedEvents.length === 0 || stayer.subscribedEvents.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

  const publisher = new Townsquare({ relayUrls: stack.relayUrls, apiUrl: stack.apiUrl, getToken: () => stack.issuer.mint('alice'), WebSocket: NodeWebSocket, browserEvents: false, maxQueuedSends: COUNT });
  cleanups.push(() => publisher.close());
  let backOnline: Promise<void> = Promise.resolve();
  let wentOfflineAt = 0;
  let deliveredBeforeReturn = 0;
  const published = await publish(publisher, roomId, COUNT, INTERVAL_MS, (k) => {
    if (k !== OFFLINE_FROM) return;
    offline = true;
    wentOfflineAt = Date.now();
    proxy.silence(); // the link dies without a close frame; new connections hang
    backOnline = (async () => {
      await new Promise((r) => setTimeout(r, OFFLINE_MS));
      deliveredBeforeReturn = traveller.texts.length;
      offline = false;
      proxy.resume();
      // What the browser's `online` event does: check at once instead of waiting out the backoff.
      traveller.client.check();
    })();
  });
  await backOnline;
  await waitForAll([traveller, stayer], COUNT, 45_000);
  const figures = report('offline-62s', COUNT, [traveller, stayer], published, { offlineMs: OFFLINE_MS, missedWhileOffline: COUNT - deliveredBeforeReturn, wentOfflineAt });

  expect(deliveredBeforeReturn).toBeLessThan(OFFLINE_FROM + 5);
  for (const c of [traveller, stayer]) {
    expect(c.audit(COUNT), `${c.name}: ${c.errors.slice(-3).join(' | ')}`).toEqual({ received: COUNT, missing: 0, duplicates: 0, outOfOrder: 0, exact: true });
    expect(c.gaps).toEqual([]);
  }
  expect(traveller.states.join('>')).toContain('disconnected');
  expect(traveller.subscribedEvents.at(-1)).toMatchObject({ recovered: true, resubscribed: true });
  expect(figures.clients[0]!.recoveryMs).toBeGreaterThan(50_000);
}, 180_000);
