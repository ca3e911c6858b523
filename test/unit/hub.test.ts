// Covers the relay Hub over a real MemoryBroker and fake transports: ref-counted subscriptions, fan-out, drops, revoke, slow consumers.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UserBudget } from '../../socket-relay/user-budgets.js';
import { MemoryBroker } from '../../broker/memory.js';
import { CloseCode, encodeEnvelope, type Envelope } from '../../protocol/index.js';
import { Connection, type ConnectionLimits, type Transport } from '../../socket-relay/connection.js';
import { Hub } from '../../socket-relay/hub.js';
import { createRelayMetrics, type RelayMetrics } from '../../socket-relay/metrics.js';

class FakeTransport implements Transport {
  readonly sent: string[] = [];
  readonly closes: Array<{ code: number; reason: string }> = [];
  bufferedAmount = 0;
  send(data: string): void {
    this.sent.push(data);
  }
  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }
  frames(): Array<Record<string, unknown>> {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }
}

const budget = () => new UserBudget({ maxConnections: 10, signalRate: 5, subscribeRate: 50, subscribeBurst: 200 });
const limits: ConnectionLimits = { maxSubscriptions: 10, maxBufferedBytes: 1024, frameRate: 10, frameBurst: 10, maxSignalBytes: 4096 };
const logger = pino({ level: 'silent' });
/** MemoryBroker delivers in microtasks; a macrotask turn lets all of them run. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const counter = async (c: { get(): Promise<{ values: Array<{ value: number; labels: object }> }> }, labels?: object) =>
  (await c.get()).values.find((v) => !labels || JSON.stringify(v.labels) === JSON.stringify(labels))?.value ?? 0;

const CHANNEL = 'room:r1';
const message = (seq: number, channel = CHANNEL): Envelope => ({
  v: 1,
  kind: 'message',
  channel,
  seq,
  id: `m${seq}`,
  event: 'message.created',
  data: { text: `hello ${seq}` },
  ts: 1_700_000_000_000 + seq,
});

let broker: MemoryBroker;
let publisher: MemoryBroker;
let metrics: RelayMetrics;
let revoked: Array<{ connection: Connection; channel: string }>;
let slow: Connection[];
let hub: Hub;

function connect(id: string, userId = id): { connection: Connection; transport: FakeTransport } {
  const transport = new FakeTransport();
  const connection = new Connection(id, userId, transport, limits, budget(), (c) => slow.push(c));
  return { connection, transport };
}

beforeEach(() => {
  broker = new MemoryBroker();
  publisher = broker.peer();
  metrics = createRelayMetrics();
  revoked = [];
  slow = [];
  hub = new Hub(broker, logger, metrics, (connection, channel) => revoked.push({ connection, channel }));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await broker.close();
});

describe('subscriptions', () => {
  it('subscribes the broker once for the first local subscriber and releases it with the last', async () => {
    const subscribe = vi.spyOn(broker, 'subscribe');
    const unsubscribe = vi.spyOn(broker, 'unsubscribe');
    const a = connect('c1');
    const b = connect('c2');

    expect(await hub.add(a.connection, CHANNEL)).toBe(true);
    expect(await hub.add(b.connection, CHANNEL)).toBe(false);
    expect(subscribe).toHaveBeenCalledTimes(1);
    expect(broker.subscriberCount(CHANNEL)).toBe(1);
    expect(hub.subscriberCount(CHANNEL)).toBe(2);
    expect(hub.channelCount).toBe(1);
    expect(a.connection.subscriptions.has(CHANNEL)).toBe(true);

    expect(hub.remove(a.connection, CHANNEL)).toBe(true);
    expect(unsubscribe).not.toHaveBeenCalled();
    expect(broker.subscriberCount(CHANNEL)).toBe(1);
    expect(a.connection.subscriptions.has(CHANNEL)).toBe(false);

    expect(hub.remove(b.connection, CHANNEL)).toBe(true);
    expect(unsubscribe).toHaveBeenCalledTimes(1);
    expect(broker.subscriberCount(CHANNEL)).toBe(0);
    expect(hub.channelCount).toBe(0);
    expect(await counter(metrics.channels)).toBe(0);
  });

  it('concurrent first adds share one broker subscription', async () => {
    const subscribe = vi.spyOn(broker, 'subscribe');
    const conns = ['c1', 'c2', 'c3'].map((id) => connect(id).connection);
    const recheck = await Promise.all(conns.map((c) => hub.add(c, CHANNEL)));
    // None joined an active subscription, so every one must re-check access (revokes before it were unseen).
    expect(recheck).toEqual([true, true, true]);
    expect(await hub.add(connect('c4').connection, CHANNEL)).toBe(false);
    expect(subscribe).toHaveBeenCalledTimes(1);
    expect(hub.subscriberCount(CHANNEL)).toBe(4);
  });

  it('remove of a channel the connection never joined returns false and changes nothing', async () => {
    const a = connect('c1');
    const b = connect('c2');
    await hub.add(a.connection, CHANNEL);
    expect(hub.remove(b.connection, CHANNEL)).toBe(false);
    expect(hub.remove(b.connection, 'room:other')).toBe(false);
    expect(broker.subscriberCount(CHANNEL)).toBe(1);
  });

  it('removeAll releases every channel of a connection', async () => {
    const a = connect('c1');
    await hub.add(a.connection, 'room:a');
    await hub.add(a.connection, 'room:b');
    expect(await counter(metrics.channels)).toBe(2);
    hub.removeAll(a.connection);
    expect(a.connection.subscriptions.size).toBe(0);
    expect(broker.subscriberCount('room:a') + broker.subscriberCount('room:b')).toBe(0);
    expect(hub.channelCount).toBe(0);
  });

  it('a failed broker subscribe rejects add and leaves no state behind', async () => {
    vi.spyOn(broker, 'subscribe').mockRejectedValueOnce(new Error('broker down'));
    const a = connect('c1');
    await expect(hub.add(a.connection, CHANNEL)).rejects.toThrow('broker down');
    expect(a.connection.subscriptions.has(CHANNEL)).toBe(false);
    expect(hub.channelCount).toBe(0);
    // The next attempt subscribes afresh.
    expect(await hub.add(a.connection, CHANNEL)).toBe(true);
    expect(broker.subscriberCount(CHANNEL)).toBe(1);
  });
});

describe('fan-out', () => {
  it('writes one identical frame, serialized once, to every local subscriber', async () => {
    const conns = ['c1', 'c2', 'c3'].map((id) => connect(id));
    const other = connect('c4');
    for (const { connection } of conns) await hub.add(connection, CHANNEL);
    await hub.add(other.connection, 'room:r2');

    // Warm up: zod compiles its fast path (which itself uses JSON.stringify) on first parse.
    await publisher.publish(CHANNEL, encodeEnvelope(message(1)));
    await tick();
    for (const c of [...conns, other]) c.transport.sent.length = 0;

    const payload = encodeEnvelope(message(2));
    const stringify = vi.spyOn(JSON, 'stringify');
    await publisher.publish(CHANNEL, payload);
    await tick();
    const stringifyCalls = stringify.mock.calls.length;
    stringify.mockRestore();

    expect(stringifyCalls).toBe(1);
    const [first] = conns[0]!.transport.sent;
    expect(first).toBeDefined();
    for (const { transport } of conns) expect(transport.sent).toEqual([first]);
    expect(JSON.parse(first!)).toEqual({
      type: 'message',
      channel: CHANNEL,
      seq: 2,
      id: 'm2',
      event: 'message.created',
      data: { text: 'hello 2' },
      ts: 1_700_000_000_002,
    });
    expect(other.transport.sent).toEqual([]);
    expect(await counter(metrics.deliveries)).toBe(6);
    expect(await counter(metrics.envelopes, { kind: 'message' })).toBe(2);
  });

  it('preserves publish order per connection', async () => {
    const a = connect('c1');
    await hub.add(a.connection, CHANNEL);
    for (let seq = 1; seq <= 50; seq++) await publisher.publish(CHANNEL, encodeEnvelope(message(seq)));
    await tick();
    expect(a.transport.frames().map((f) => f.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('drops invalid envelopes and channel mismatches, counting each', async () => {
    const a = connect('c1');
    await hub.add(a.connection, CHANNEL);
    await publisher.publish(CHANNEL, 'not json');
    await publisher.publish(CHANNEL, JSON.stringify({ ...message(1), v: 2 }));
    await publisher.publish(CHANNEL, JSON.stringify({ ...message(1), seq: undefined }));
    await publisher.publish(CHANNEL, encodeEnvelope(message(1, 'room:someone-else')));
    await publisher.publish(CHANNEL, encodeEnvelope({ v: 1, kind: 'revoke', channel: 'room:other', userId: 'c1' }));
    await tick();
    expect(a.transport.sent).toEqual([]);
    expect(a.connection.subscriptions.has(CHANNEL)).toBe(true); // the mismatched revoke did nothing
    expect(await counter(metrics.invalidEnvelopes)).toBe(5);
    expect(await counter(metrics.deliveries)).toBe(0);

    // A valid one still goes through afterwards.
    await publisher.publish(CHANNEL, encodeEnvelope(message(2)));
    await tick();
    expect(a.transport.frames().map((f) => f.seq)).toEqual([2]);
  });

  it('drops a message that arrives after the last subscriber left', async () => {
    const a = connect('c1');
    await hub.add(a.connection, CHANNEL);
    void publisher.publish(CHANNEL, encodeEnvelope(message(1))); // not awaited: delivery is still queued
    hub.remove(a.connection, CHANNEL);
    await tick();
    expect(a.transport.sent).toEqual([]);
  });

  it('does not echo a signal to its origin connection, even for the same user', async () => {
    const origin = connect('c1', 'alice');
    const sameUser = connect('c2', 'alice');
    const other = connect('c3', 'bob');
    for (const c of [origin, sameUser, other]) await hub.add(c.connection, CHANNEL);
    await publisher.publish(
      CHANNEL,
      encodeEnvelope({ v: 1, kind: 'signal', channel: CHANNEL, event: 'typing', userId: 'alice', data: { on: true }, origin: 'c1' }),
    );
    await tick();
    expect(origin.transport.sent).toEqual([]);
    const expected = { type: 'signal', channel: CHANNEL, event: 'typing', userId: 'alice', data: { on: true } };
    expect(sameUser.transport.frames()).toEqual([expected]);
    expect(other.transport.frames()).toEqual([expected]);
    expect(await counter(metrics.deliveries)).toBe(2);
  });

  it('delivers a signal without origin to everyone', async () => {
    const a = connect('c1');
    await hub.add(a.connection, CHANNEL);
    await publisher.publish(CHANNEL, encodeEnvelope({ v: 1, kind: 'signal', channel: CHANNEL, event: 'cursor', userId: 'srv', data: null }));
    await tick();
    expect(a.transport.frames()).toEqual([{ type: 'signal', channel: CHANNEL, event: 'cursor', userId: 'srv', data: null }]);
  });
});

describe('revoke', () => {
  it("removes only that user's connections from that channel and tells them why", async () => {
    const alice1 = connect('c1', 'alice');
    const alice2 = connect('c2', 'alice');
    const bob = connect('c3', 'bob');
    for (const c of [alice1, alice2, bob]) await hub.add(c.connection, CHANNEL);
    await hub.add(alice1.connection, 'room:r2');

    const before = Date.now();
    await publisher.publish(CHANNEL, encodeEnvelope({ v: 1, kind: 'revoke', channel: CHANNEL, userId: 'alice' }));
    await tick();

    for (const a of [alice1, alice2]) {
      expect(a.transport.frames()).toEqual([{ type: 'unsubscribed', channel: CHANNEL, reason: 'access_revoked' }]);
      expect(a.connection.subscriptions.has(CHANNEL)).toBe(false);
      expect(a.transport.closes).toEqual([]); // the connection itself stays open
    }
    expect(alice1.connection.subscriptions.has('room:r2')).toBe(true);
    expect(hub.subscriberCount('room:r2')).toBe(1);
    expect(bob.transport.sent).toEqual([]);
    expect(hub.subscriberCount(CHANNEL)).toBe(1);
    expect(revoked.map((r) => [r.connection.id, r.channel]).sort()).toEqual([
      ['c1', CHANNEL],
      ['c2', CHANNEL],
    ]);
    expect(await counter(metrics.envelopes, { kind: 'revoke' })).toBe(1);

    expect(hub.revokedSince(CHANNEL, 'alice', before)).toBe(true);
    expect(hub.revokedSince(CHANNEL, 'alice', Date.now() + 1000)).toBe(false);
    expect(hub.revokedSince(CHANNEL, 'bob', before)).toBe(false);
    expect(hub.revokedSince('room:r2', 'alice', before)).toBe(false);

    // Later messages reach bob only.
    await publisher.publish(CHANNEL, encodeEnvelope(message(7)));
    await tick();
    expect(bob.transport.frames().map((f) => f.seq)).toEqual([7]);
    expect(alice1.transport.sent).toHaveLength(1);
    expect(alice2.transport.sent).toHaveLength(1);
  });

  it('releases the broker subscription when the revoked user was the last local subscriber', async () => {
    const alice = connect('c1', 'alice');
    await hub.add(alice.connection, CHANNEL);
    await publisher.publish(CHANNEL, encodeEnvelope({ v: 1, kind: 'revoke', channel: CHANNEL, userId: 'alice' }));
    await tick();
    expect(broker.subscriberCount(CHANNEL)).toBe(0);
    expect(hub.channelCount).toBe(0);
  });
});

describe('slow consumers', () => {
  it('closes a connection over its buffer limit with 4009 while the others keep receiving', async () => {
    const fast1 = connect('c1');
    const laggard = connect('c2');
    const fast2 = connect('c3');
    for (const c of [fast1, laggard, fast2]) await hub.add(c.connection, CHANNEL);

    laggard.transport.bufferedAmount = limits.maxBufferedBytes; // at the limit is still fine
    await publisher.publish(CHANNEL, encodeEnvelope(message(1)));
    await tick();
    expect(laggard.transport.sent).toHaveLength(1);
    expect(laggard.transport.closes).toEqual([]);

    laggard.transport.bufferedAmount = limits.maxBufferedBytes + 1;
    await publisher.publish(CHANNEL, encodeEnvelope(message(2)));
    await publisher.publish(CHANNEL, encodeEnvelope(message(3)));
    await tick();

    expect(laggard.transport.sent).toHaveLength(1);
    expect(laggard.transport.closes).toEqual([{ code: CloseCode.TooSlow, reason: expect.any(String) }]);
    expect(laggard.connection.closed).toBe(true);
    expect(slow).toEqual([laggard.connection]);
    for (const c of [fast1, fast2]) expect(c.transport.frames().map((f) => f.seq)).toEqual([1, 2, 3]);
  });
});
