// A new subscriber's presence snapshot (PresenceSnapshots) over a real Hub, MemoryBroker and MemoryPresence:
// no snapshot after a revoke that came while it was read, and a fresh one for the channel when the held
// events kept overflowing through every attempt (counted).
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../broker/memory.js';
import { encodeEnvelope } from '../../protocol/index.js';
import { Connection, type ConnectionLimits, type Transport } from '../../socket-relay/connection.js';
import { Hub } from '../../socket-relay/hub.js';
import { MemoryPresence } from '../../socket-relay/memory-presence.js';
import { createRelayMetrics, type RelayMetrics } from '../../socket-relay/metrics.js';
import type { PresenceSnapshot } from '../../socket-relay/presence.js';
import { PresenceSnapshots } from '../../socket-relay/presence-snapshots.js';
import { UserBudget } from '../../socket-relay/user-budgets.js';

class FakeTransport implements Transport {
  readonly sent: string[] = [];
  bufferedAmount = 0;
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {}
  frames(): Array<Record<string, unknown>> {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }
}

const limits: ConnectionLimits = { maxSubscriptions: 10, maxBufferedBytes: 1 << 22, frameRate: 10, frameBurst: 10, maxSignalBytes: 4096 };
const budget = () => new UserBudget({ maxConnections: 10, signalRate: 5, subscribeRate: 50, subscribeBurst: 200 });
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const CHANNEL = 'room:r1';

/** MemoryPresence whose snapshot reads first wait for `before` (a gate, or events published meanwhile). */
class SlowPresence extends MemoryPresence {
  before: (() => Promise<void>) | null = null;
  reads = 0;
  override async snapshot(channel: string): Promise<PresenceSnapshot> {
    this.reads++;
    await this.before?.();
    return super.snapshot(channel);
  }
}

let broker: MemoryBroker;
let metrics: RelayMetrics;
let hub: Hub;
let presence: SlowPresence;
let snapshots: PresenceSnapshots;

beforeEach(() => {
  broker = new MemoryBroker();
  metrics = createRelayMetrics();
  const logger = pino({ level: 'silent' });
  hub = new Hub(broker, logger, metrics, () => {}, (channel) => snapshots.refresh(channel));
  presence = new SlowPresence(broker.peer());
  snapshots = new PresenceSnapshots(hub, presence, logger, metrics, 50);
});
afterEach(async () => {
  snapshots.stop();
  await broker.close();
});

/** A connection subscribed as commands.ts does it: held, added to the hub, its presence recorded. */
async function subscribe(id: string, userId: string) {
  const transport = new FakeTransport();
  const connection = new Connection(id, userId, transport, limits, budget());
  await hub.add(connection, CHANNEL, { holdPresence: true });
  await presence.join(CHANNEL, connection);
  return { connection, transport };
}

describe('the snapshot for a new subscriber', () => {
  it('is not sent when the subscription was revoked while it was read', async () => {
    const { connection, transport } = await subscribe('c1', 'bob');
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    presence.before = () => gate;
    const sending = snapshots.sendInitial(connection, CHANNEL);
    await tick();
    hub.evict(connection, CHANNEL); // the revoke: `unsubscribed` goes out
    open();
    await sending;
    expect(transport.frames()).toEqual([{ type: 'unsubscribed', channel: CHANNEL, reason: 'access_revoked' }]);
  });

  it('after the last attempt still overflowing, keeps that snapshot, counts it, and refreshes the channel', async () => {
    const { connection, transport } = await subscribe('c1', 'bob');
    // Every one of the three reads sees more events than a hold keeps (256) arrive while it runs.
    let flood = 0;
    presence.before = async () => {
      if (flood >= 3) return;
      const round = flood++;
      for (let i = 0; i < 300; i++) {
        await broker.peer().publish(CHANNEL, encodeEnvelope({ v: 1, kind: 'presence', channel: CHANNEL, event: 'join', userId: `u${round}_${i}` }));
      }
      await tick();
    };
    await snapshots.sendInitial(connection, CHANNEL);
    const snapshotsSent = () => transport.frames().filter((f) => f.type === 'presence');
    expect(snapshotsSent()).toHaveLength(3);
    expect(transport.frames().filter((f) => f.type === 'join')).toEqual([]); // every held event was dropped
    expect((await metrics.presenceHoldsLost.get()).values[0]?.value).toBe(1);
    // The channel refresh: one more snapshot, to this subscriber now that it is released.
    await tick();
    await tick();
    expect(presence.reads).toBe(4);
    expect(snapshotsSent()).toHaveLength(4);
    expect(snapshotsSent().at(-1)).toEqual({ type: 'presence', channel: CHANNEL, members: [{ userId: 'bob', connections: 1 }], total: 1 });
    // Events flow to it directly from now on.
    await broker.peer().publish(CHANNEL, encodeEnvelope({ v: 1, kind: 'presence', channel: CHANNEL, event: 'leave', userId: 'u0_1' }));
    await tick();
    expect(transport.frames().at(-1)).toEqual({ type: 'leave', channel: CHANNEL, userId: 'u0_1' });
  });
});
