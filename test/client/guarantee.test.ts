/**
 * THE GUARANTEE under faults: a publisher sends numbered durable messages at
 * a steady rate into one room over the HTTP API; SDK clients on two relays;
 * a fault strikes mid-stream; at the end every client's app-level list is
 * exactly m1..mN — no gap, no duplicate, in order. Each case prints its
 * figures as one `SDK_FAULT_CASE {json}` line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { startRelayProcess, type RelayProcess } from '../../local/relay-process.js';
import { Townsquare } from '../../client/src/index.js';
import { createRoom, NodeWebSocket, publish, RecordingClient, report, startSilenceableProxy, waitForAll } from '../helpers/sdk-harness.js';

const COUNT = 500;
const INTERVAL_MS = 25; // 40 messages/s: 12.5 s per case
const FAULT_AT = 150;

let stack: LocalStack;
const extraRelays: RelayProcess[] = [];
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json', relayEnv: { DRAIN_TIMEOUT_MS: '2000' } });
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const r of extraRelays) await r.stop('SIGKILL');
  await stack?.stop();
});

const portOf = (wsUrl: string) => Number(new URL(wsUrl).port);

/** Restarts relay `i` on its port (after a kill), so the next case has two relays again. */
async function reviveRelay(i: number): Promise<void> {
  const relay = await startRelayProcess(stack.relayEnv, { port: portOf(stack.relayUrls[i]!) });
  extraRelays.push(relay);
  stack.relays[i] = relay;
}

function publisher(): Townsquare {
  const ts = new Townsquare({
    relayUrls: stack.relayUrls,
    apiUrl: stack.apiUrl,
    getToken: () => stack.issuer.mint('alice'),
    WebSocket: NodeWebSocket,
    browserEvents: false,
    maxQueuedSends: COUNT,
  });
  cleanups.push(() => ts.close());
  return ts;
}

function client(name: string, user: string, roomId: string, relayUrls: string[], extra: Partial<ConstructorParameters<typeof Townsquare>[0]> = {}): RecordingClient {
  const c = new RecordingClient(
    name,
    { relayUrls, relayOrder: 'given', apiUrl: stack.apiUrl, getToken: () => stack.issuer.mint(user), backoff: { minDelayMs: 200, maxDelayMs: 2000 }, heartbeat: { intervalMs: 2000, timeoutMs: 2000 }, ...extra },
    `room:${roomId}`,
  );
  cleanups.push(() => c.client.close());
  return c;
}

async function subscribedAll(clients: RecordingClient[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (clients.some((c) => c.subscribedEvents.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(clients.map((c) => c.subscribedEvents.length > 0)).toEqual(clients.map(() => true));
}

/** Runs one case: clients subscribe, the publisher streams, `fault` strikes at message FAULT_AT. */
async function runCase(name: string, clients: RecordingClient[], fault: () => Promise<void>, extra: () => Record<string, unknown> = () => ({})) {
  await subscribedAll(clients);
  const roomId = caseRoom;
  let faultDone: Promise<void> = Promise.resolve();
  const published = await publish(publisher(), roomId, COUNT, INTERVAL_MS, (k) => {
    if (k === FAULT_AT) faultDone = fault();
  });
  await faultDone;
  await waitForAll(clients, COUNT, 45_000);
  const figures = report(name, COUNT, clients, published, extra());
  for (const c of clients) {
    expect(c.audit(COUNT), `${name}: ${c.name} (errors: ${c.errors.slice(-3).join(' | ')})`).toEqual({ received: COUNT, missing: 0, duplicates: 0, outOfOrder: 0, exact: true });
    expect(c.seqs).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
    expect(c.gaps).toEqual([]);
  }
  return figures;
}

let caseRoom = '';
async function newRoom(name: string): Promise<string> {
  caseRoom = await createRoom(stack, 'alice', ['bob', 'carol'], name);
  return caseRoom;
}

describe('every client gets m1..mN exactly once, in order', () => {
  it('through a Redis SIGKILL and restart mid-stream', async () => {
    const roomId = await newRoom('redis-kill');
    const clients = [client('bob@relay0', 'bob', roomId, [stack.relayUrls[0]!, stack.relayUrls[1]!]), client('carol@relay1', 'carol', roomId, [stack.relayUrls[1]!, stack.relayUrls[0]!])];
    let downMs = 0;
    const figures = await runCase('redis-sigkill', clients, async () => {
      const t = Date.now();
      await stack.redis!.kill();
      await new Promise((r) => setTimeout(r, 3000));
      await stack.redis!.restart();
      downMs = Date.now() - t;
    }, () => ({ redisDownMs: downMs }));
    // They stayed connected and recovered through `resync` + history, without reconnecting.
    expect(figures.clients.every((c) => c.recoveryMs !== null)).toBe(true);
  }, 120_000);

  it('through a relay SIGKILL (its clients fail over to the other relay)', async () => {
    const roomId = await newRoom('relay-kill');
    const clients = [client('bob@relay0', 'bob', roomId, [stack.relayUrls[0]!, stack.relayUrls[1]!]), client('carol@relay1', 'carol', roomId, [stack.relayUrls[1]!, stack.relayUrls[0]!])];
    try {
      await runCase('relay-sigkill', clients, async () => {
        await stack.relays[0]!.stop('SIGKILL');
      });
    } finally {
      await reviveRelay(0); // the next cases need two relays again
    }
    expect(clients[0]!.states.join('>')).toContain('disconnected(1006)');
    expect(clients[0]!.subscribedEvents.at(-1)).toMatchObject({ resubscribed: true, recovered: true });
  }, 120_000);

  it('through a socket that goes silent without a close frame (the heartbeat notices)', async () => {
    const roomId = await newRoom('dead-socket');
    const proxy = await startSilenceableProxy(portOf(stack.relayUrls[0]!));
    cleanups.push(() => proxy.close());
    const clients = [client('bob@proxy', 'bob', roomId, [proxy.wsUrl, stack.relayUrls[1]!]), client('carol@relay1', 'carol', roomId, [stack.relayUrls[1]!, stack.relayUrls[0]!])];
    let noticedMs: number | null = null;
    const figures = await runCase('dead-socket', clients, async () => {
      const t = Date.now();
      proxy.silence();
      const off = clients[0]!.client.on('state', (s) => {
        if (s.state === 'disconnected' && noticedMs === null) noticedMs = Date.now() - t;
      });
      cleanups.push(off);
    }, () => ({ heartbeat: { intervalMs: 2000, timeoutMs: 2000 }, noticedMs }));
    expect(clients[0]!.states.join('>')).toContain('disconnected(4000)');
    // Documented bound: intervalMs + timeoutMs + 1 s tick.
    expect(noticedMs).not.toBeNull();
    expect(noticedMs!).toBeLessThanOrEqual(2000 + 2000 + 1000 + 1500);
    expect(figures.clients[0]!.recoveryMs).not.toBeNull();
  }, 120_000);

  it('through a relay SIGTERM (1012, drain, reconnect elsewhere)', async () => {
    const roomId = await newRoom('relay-term');
    const clients = [client('bob@relay0', 'bob', roomId, [stack.relayUrls[0]!, stack.relayUrls[1]!]), client('carol@relay1', 'carol', roomId, [stack.relayUrls[1]!, stack.relayUrls[0]!])];
    let exitCode: number | null = null;
    let drainReason = '';
    cleanups.push(clients[1]!.client.on('state', (s) => void (s.code === 1012 && (drainReason = s.reason ?? ''))));
    try {
      await runCase('relay-sigterm', clients, async () => {
        exitCode = await stack.relays[1]!.stop('SIGTERM');
      }, () => ({ exitCode }));
    } finally {
      await reviveRelay(1);
    }
    expect(exitCode).toBe(0);
    expect(clients[1]!.states.join('>')).toContain('disconnected(1012)');
    // The relay's hint spreads the reconnects of its whole population.
    expect(drainReason).toBe('relay restarting; retryMs=3000');
  }, 120_000);

  it('through token expiry mid-stream (renewed with `refresh`, or reconnected after 4005)', async () => {
    const roomId = await newRoom('token-expiry');
    let refreshingCalls = 0;
    // An app that mints a short-lived token whenever asked: the SDK renews it with `refresh`.
    const refreshing = client('bob-refreshes@relay0', 'bob', roomId, [stack.relayUrls[0]!, stack.relayUrls[1]!], {
      getToken: () => (refreshingCalls++, stack.issuer.mint('bob', { ttlSeconds: 5 })),
    });
    // An app that caches its token until it expires: renewal returns the same token, so the relay closes with 4005 and the SDK reconnects with a new one.
    let cached: { token: string; exp: number } | null = null;
    let cachingCalls = 0;
    const caching = client('carol-caches@relay1', 'carol', roomId, [stack.relayUrls[1]!, stack.relayUrls[0]!], {
      getToken: async () => {
        cachingCalls++;
        if (!cached || cached.exp <= Date.now()) cached = { token: await stack.issuer.mint('carol', { ttlSeconds: 5 }), exp: Date.now() + 5000 };
        return cached.token;
      },
    });
    await runCase('token-expiry', [refreshing, caching], async () => {}, () => ({ tokenTtlMs: 5000, refreshingGetTokenCalls: refreshingCalls, cachingGetTokenCalls: cachingCalls }));
    // 12.5 s of stream with 5 s tokens: renewed at least twice, never dropped.
    expect(refreshingCalls).toBeGreaterThanOrEqual(3);
    expect(refreshing.states.filter((s) => s.startsWith('disconnected'))).toEqual([]);
    expect(caching.states.join('>')).toContain('disconnected(4005)');
  }, 120_000);
});
