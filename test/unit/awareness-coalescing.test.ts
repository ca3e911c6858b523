// Awareness coalescing at the relay: the Hub over a real MemoryBroker and fake transports. Within one
// window a document's awareness signals are merged per sender (latest wins) before fan-out; other
// signals and other channels go out at once; memory stays bounded.
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../broker/memory.js';
import { AWARENESS_COALESCE_MS } from '../../protocol/awareness.js';
import { encodeEnvelope, type Envelope } from '../../protocol/index.js';
import { AwarenessCoalescer, type SignalEnvelope } from '../../socket-relay/awareness-coalescer.js';
import { Connection, type ConnectionLimits, type Transport } from '../../socket-relay/connection.js';
import { Hub } from '../../socket-relay/hub.js';
import { UserBudget } from '../../socket-relay/user-budgets.js';

class FakeTransport implements Transport {
  readonly sent: string[] = [];
  bufferedAmount = 0;
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {}
  signals(): Array<{ channel: string; event: string; userId: string; data: unknown }> {
    return this.sent.map((s) => JSON.parse(s) as { type: string; channel: string; event: string; userId: string; data: unknown }).filter((f) => f.type === 'signal');
  }
}

const limits: ConnectionLimits = { maxSubscriptions: 10, maxBufferedBytes: 1 << 20, frameRate: 10, frameBurst: 10, maxSignalBytes: 4096 };
const DOC = 'document:d1';
const WINDOW_MS = 40;
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const afterWindow = () => new Promise((resolve) => setTimeout(resolve, WINDOW_MS * 2));

let broker: MemoryBroker;
let hub: Hub;

function connect(id: string, userId = id) {
  const transport = new FakeTransport();
  const connection = new Connection(id, userId, transport, limits, new UserBudget({ maxConnections: 10, signalRate: 5, subscribeRate: 50, subscribeBurst: 200 }), () => {});
  return { connection, transport };
}

const signal = (origin: string, n: number, event = 'awareness', channel = DOC): Envelope => ({
  v: 1,
  kind: 'signal',
  channel,
  event,
  userId: `user-${origin}`,
  data: { update: `state-${origin}-${n}` },
  origin,
});

beforeEach(() => {
  broker = new MemoryBroker();
  hub = new Hub(broker, pino({ level: 'silent' }), undefined, () => {}, () => {}, { awarenessCoalesceMs: WINDOW_MS });
});
afterEach(async () => {
  hub.close();
  await broker.close();
});

describe('awareness coalescing', () => {
  it('a burst of 10 awareness signals from each of 5 users reaches a subscriber as one per user, the latest', async () => {
    const receiver = connect('r');
    const senders = ['s1', 's2', 's3', 's4', 's5'].map((id) => connect(id));
    await hub.add(receiver.connection, DOC);
    for (const s of senders) await hub.add(s.connection, DOC);
    const publisher = broker.peer();
    for (let n = 1; n <= 10; n++) for (const id of ['s1', 's2', 's3', 's4', 's5']) await publisher.publish(DOC, encodeEnvelope(signal(id, n)));
    await tick();
    expect(receiver.transport.signals()).toEqual([]); // held for the window
    await afterWindow();
    const got = receiver.transport.signals();
    expect(got.map((f) => f.data)).toEqual(['s1', 's2', 's3', 's4', 's5'].map((id) => ({ update: `state-${id}-10` })));
    expect(got.map((f) => f.userId)).toEqual(['s1', 's2', 's3', 's4', 's5'].map((id) => `user-${id}`));
    // A sender never gets its own signal back; it gets the 4 others', once each.
    expect(senders[0]!.transport.signals().map((f) => f.userId)).toEqual(['user-s2', 'user-s3', 'user-s4', 'user-s5']);
    // The next window starts afresh.
    await publisher.publish(DOC, encodeEnvelope(signal('s3', 11)));
    await afterWindow();
    expect(receiver.transport.signals().slice(5).map((f) => f.data)).toEqual([{ update: 'state-s3-11' }]);
  });

  it('leaves other signals and other channels alone: they go out at once, every one', async () => {
    const receiver = connect('r');
    await hub.add(receiver.connection, DOC);
    await hub.add(receiver.connection, 'room:r1');
    const publisher = broker.peer();
    for (let n = 1; n <= 3; n++) {
      await publisher.publish(DOC, encodeEnvelope(signal('s1', n, 'typing')));
      await publisher.publish('room:r1', encodeEnvelope(signal('s1', n, 'awareness', 'room:r1')));
    }
    await tick();
    expect(receiver.transport.signals()).toHaveLength(6);
  });

  it('drops what a window held for a channel whose last local subscriber left', async () => {
    const receiver = connect('r');
    await hub.add(receiver.connection, DOC);
    await broker.peer().publish(DOC, encodeEnvelope(signal('s1', 1)));
    await tick();
    hub.remove(receiver.connection, DOC);
    await hub.add(receiver.connection, DOC); // back, but the old window's signal is gone
    await afterWindow();
    expect(receiver.transport.signals()).toEqual([]);
  });

  it('defaults to the documented window', () => {
    expect(AWARENESS_COALESCE_MS).toBe(100);
  });
});

describe('AwarenessCoalescer bounds', () => {
  it('flushes a window at once when it would hold more than maxSenders senders', () => {
    const delivered: Array<{ channel: string; origins: string[] }> = [];
    const coalescer = new AwarenessCoalescer(60_000, 3, (channel, envelopes) => delivered.push({ channel, origins: envelopes.map((e) => e.origin!) }));
    for (const id of ['a', 'b', 'c', 'a']) coalescer.offer(signal(id, 1) as SignalEnvelope);
    expect(delivered).toEqual([]);
    coalescer.offer(signal('d', 1) as SignalEnvelope);
    expect(delivered).toEqual([{ channel: DOC, origins: ['b', 'c', 'a'] }]);
    coalescer.flush();
    expect(delivered[1]).toEqual({ channel: DOC, origins: ['d'] });
    coalescer.close();
  });

  it('whatever arrives, a window delivers each sender once, with its latest signal, and holds at most maxSenders per channel', () => {
    const arb = fc.array(fc.record({ channel: fc.constantFrom('document:a', 'document:b'), origin: fc.constantFrom('o1', 'o2', 'o3', 'o4', 'o5'), n: fc.nat(1000) }), { maxLength: 200 });
    fc.assert(
      fc.property(arb, (offers) => {
        const delivered: Array<{ channel: string; envelopes: SignalEnvelope[] }> = [];
        const coalescer = new AwarenessCoalescer(60_000, 4, (channel, envelopes) => delivered.push({ channel, envelopes }));
        for (const o of offers) coalescer.offer({ ...(signal(o.origin, o.n) as SignalEnvelope), channel: o.channel });
        coalescer.flush();
        coalescer.close();
        for (const { envelopes } of delivered) {
          const origins = envelopes.map((e) => e.origin);
          expect(new Set(origins).size).toBe(origins.length);
          expect(envelopes.length).toBeLessThanOrEqual(4);
        }
        // The last signal of every (channel, sender) is delivered.
        const last = new Map(offers.map((o) => [`${o.channel}|${o.origin}`, o.n]));
        for (const [key, n] of last) {
          const [channel, origin] = key.split('|');
          const finals = delivered.filter((d) => d.channel === channel).flatMap((d) => d.envelopes.filter((e) => e.origin === origin));
          expect(finals.at(-1)?.data).toEqual({ update: `state-${origin}-${n}` });
        }
      }),
      { numRuns: 200 },
    );
  });
});
