/**
 * The connection's reconnect timing and relay choice against real WebSocket
 * servers in this process: relays that say 1013 ("try again later") or drain
 * with a retry hint, and two relays to choose from.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { Townsquare, type TownsquareOptions } from '../../client/src/index.js';
import { eventually } from '../helpers/redis.js';
import { NodeWebSocket } from '../helpers/sdk-harness.js';

const servers: WebSocketServer[] = [];
const clients: Townsquare[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** A relay that records each connection's time and answers `auth` with `onAuth`. */
async function relay(onAuth: (ws: import('ws').WebSocket, n: number) => void) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  const connections: number[] = [];
  server.on('connection', (ws) => {
    connections.push(Date.now());
    const n = connections.length;
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { type: string; ref?: number };
      if (frame.type === 'auth') onAuth(ws, n);
      if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong', ref: frame.ref }));
    });
  });
  return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}/ws`, connections };
}
const welcome = (ws: import('ws').WebSocket) => ws.send(JSON.stringify({ type: 'welcome', connectionId: 'c', userId: 'bob', expiresAt: Date.now() + 3_600_000 }));

function client(options: Partial<TownsquareOptions> & Pick<TownsquareOptions, 'relayUrls'>): Townsquare {
  const ts = new Townsquare({ apiUrl: 'http://127.0.0.1:1', getToken: async () => 't', WebSocket: NodeWebSocket, browserEvents: false, ...options });
  clients.push(ts);
  return ts;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('1013 try again later', () => {
  it('waits at least 2 s, with jitter, so clients told at once do not return at once', async () => {
    const relays = await Promise.all(Array.from({ length: 6 }, () => relay((ws, n) => (n === 1 ? ws.close(1013, 'keys unavailable') : welcome(ws)))));
    const fleet = relays.map((r) => client({ relayUrls: r.url }).connect());
    await eventually(() => fleet.every((ts) => ts.state === 'connected'), 15_000, 'every client back');
    const waits = relays.map((r) => r.connections[1]! - r.connections[0]!);
    for (const w of waits) expect(w).toBeGreaterThanOrEqual(1950);
    for (const w of waits) expect(w).toBeLessThan(4000 + 1000);
    // Spread: not one instant for everybody (the old delay was exactly 2000 ms for all).
    expect(Math.max(...waits) - Math.min(...waits)).toBeGreaterThan(150);
  }, 30_000);

  it('check() (the page became visible, the network came back) does not cut the pause short', async () => {
    const r = await relay((ws, n) => (n === 1 ? ws.close(1013, 'keys unavailable') : welcome(ws)));
    const ts = client({ relayUrls: r.url }).connect();
    await eventually(() => r.connections.length === 1 && ts.state === 'disconnected', 5000, 'the 1013');
    ts.check();
    await sleep(1500);
    expect(r.connections).toHaveLength(1);
    await eventually(() => ts.state === 'connected', 6000, 'the reconnect after the pause');
  });

  it("check() does not cut a draining relay's retry hint short either, but does cut an ordinary backoff", async () => {
    const draining = await relay((ws, n) => (n === 1 ? ws.close(1012, 'relay restarting; retryMs=3000') : welcome(ws)));
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.9); // within the hint: 2.7 s
    const ts = client({ relayUrls: draining.url }).connect();
    await eventually(() => ts.state === 'disconnected', 5000, 'the 1012');
    random.mockRestore();
    ts.check();
    await sleep(1000);
    expect(draining.connections).toHaveLength(1);
    await eventually(() => ts.state === 'connected', 6000, 'the reconnect');

    // An ordinary drop (1006-like): check() reconnects at once.
    const flaky = await relay((ws, n) => (n === 1 ? ws.terminate() : welcome(ws)));
    const other = client({ relayUrls: flaky.url, backoff: { minDelayMs: 20_000, maxDelayMs: 20_000 } }).connect();
    await eventually(() => other.state === 'disconnected', 5000, 'the drop');
    other.check();
    await eventually(() => other.state === 'connected', 3000, 'an immediate reconnect');
  }, 30_000);
});

describe('relay order', () => {
  it("'given' starts at the first URL; the default spreads clients over the relays; relayUrl says where the socket is", async () => {
    const a = await relay((ws) => welcome(ws));
    const b = await relay((ws) => welcome(ws));
    const first = client({ relayUrls: [b.url, a.url], relayOrder: 'given' }).connect();
    await eventually(() => first.state === 'connected', 5000, 'connected');
    expect(first.relayUrl).toBe(b.url);
    expect(b.connections).toHaveLength(1);
    const spread = Array.from({ length: 16 }, () => client({ relayUrls: [a.url, b.url] }).connect());
    await eventually(() => spread.every((ts) => ts.state === 'connected'), 10_000, 'all connected');
    // 16 clients on 2 relays at random: all on one would have odds of 1 in 32,768.
    expect(a.connections.length).toBeGreaterThan(0);
    expect(b.connections.length).toBeGreaterThan(1);
    expect(new Set(spread.map((ts) => ts.relayUrl))).toEqual(new Set([a.url, b.url]));
    expect(() => client({ relayUrls: a.url, relayOrder: 'first' as 'given' })).toThrow(/relayOrder/);
  });
});
