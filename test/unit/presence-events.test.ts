// Presence events without Redis: the announcement rule at the event limit, the hub holding a new
// subscriber's join/leave frames until its snapshot is out, and MemoryPresence over a real MemoryBroker.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../broker/memory.js';
import { encodeEnvelope, type PresenceEnvelope } from '../../protocol/index.js';
import { Connection, type ConnectionLimits, type Transport } from '../../socket-relay/connection.js';
import { Hub } from '../../socket-relay/hub.js';
import { MemoryPresence } from '../../socket-relay/memory-presence.js';
import { announcement, hasPresence } from '../../socket-relay/presence-rules.js';
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

const limits: ConnectionLimits = { maxSubscriptions: 10, maxBufferedBytes: 1 << 20, frameRate: 10, frameBurst: 10, maxSignalBytes: 4096 };
const budget = () => new UserBudget({ maxConnections: 10, signalRate: 5, subscribeRate: 50, subscribeBurst: 200 });
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const CHANNEL = 'room:r1';

function connect(id: string, userId = id) {
  const transport = new FakeTransport();
  return { connection: new Connection(id, userId, transport, limits, budget()), transport };
}
const event = (e: PresenceEnvelope['event'], userId: string): string => encodeEnvelope({ v: 1, kind: 'presence', channel: CHANNEL, event: e, userId });

describe('announcement', () => {
  it('announces changes at or under the limit, resets when crossing it either way, and suppresses above it', () => {
    const limit = 3;
    expect(announcement('join', 3, limit)).toBe('join');
    expect(announcement('join', 4, limit)).toBe('reset');
    expect(announcement('join', 5, limit)).toBeNull();
    expect(announcement('leave', 4, limit)).toBeNull();
    expect(announcement('leave', 3, limit)).toBe('reset');
    expect(announcement('leave', 2, limit)).toBe('leave');
    expect(announcement('leave', 0, limit)).toBe('leave');
  });

  it('gives presence to room and document channels only', () => {
    expect([hasPresence('room:r1'), hasPresence('document:d1'), hasPresence('user:alice'), hasPresence('room:bad id'), hasPresence('x')]).toEqual([true, true, false, false, false]);
  });
});

describe('the hub and presence frames', () => {
  let broker: MemoryBroker;
  let publisher: MemoryBroker;
  let resets: string[];
  let hub: Hub;
  beforeEach(() => {
    broker = new MemoryBroker();
    publisher = broker.peer();
    resets = [];
    hub = new Hub(broker, pino({ level: 'silent' }), undefined, () => {}, (channel) => resets.push(channel));
  });
  afterEach(() => broker.close());

  it('turns join and leave envelopes into frames, and a reset into a snapshot request', async () => {
    const a = connect('c1', 'alice');
    await hub.add(a.connection, CHANNEL);
    await publisher.publish(CHANNEL, event('join', 'bob'));
    await publisher.publish(CHANNEL, event('reset', 'carol'));
    await publisher.publish(CHANNEL, event('leave', 'bob'));
    await tick();
    expect(a.transport.frames()).toEqual([
      { type: 'join', channel: CHANNEL, userId: 'bob' },
      { type: 'leave', channel: CHANNEL, userId: 'bob' },
    ]);
    expect(resets).toEqual([CHANNEL]);
  });

  it('holds a new subscriber’s frames until its snapshot is out, then sends them in order (its own join dropped)', async () => {
    const old = connect('c1', 'alice');
    const fresh = connect('c2', 'bob');
    await hub.add(old.connection, CHANNEL);
    await hub.add(fresh.connection, CHANNEL, { holdPresence: true });
    expect(hub.presenceAudience(CHANNEL)).toEqual([old.connection]);
    for (const [e, u] of [['join', 'bob'], ['join', 'carol'], ['leave', 'dave']] as const) await publisher.publish(CHANNEL, event(e, u));
    await tick();
    expect(fresh.transport.sent).toEqual([]);
    expect(old.transport.frames().map((f) => `${f.type} ${f.userId}`)).toEqual(['join bob', 'join carol', 'leave dave']);

    fresh.connection.send({ type: 'presence', channel: CHANNEL, members: [], total: 0 }); // the snapshot
    expect(hub.releasePresence(fresh.connection, CHANNEL)).toBe('released');
    expect(fresh.transport.frames().map((f) => `${f.type} ${f.userId ?? ''}`)).toEqual(['presence ', 'join carol', 'leave dave']);
    await publisher.publish(CHANNEL, event('leave', 'carol'));
    await tick();
    expect(fresh.transport.frames().at(-1)).toEqual({ type: 'leave', channel: CHANNEL, userId: 'carol' });
    expect(hub.presenceAudience(CHANNEL)).toHaveLength(2);
  });

  it('asks for a newer snapshot when more frames came than it holds, and gives up the hold when forced', async () => {
    const fresh = connect('c2', 'bob');
    await hub.add(fresh.connection, CHANNEL, { holdPresence: true });
    for (let i = 0; i < 300; i++) await publisher.publish(CHANNEL, event('join', `u${i}`));
    await tick();
    expect(hub.releasePresence(fresh.connection, CHANNEL)).toBe('retry'); // dropped: a newer snapshot is needed
    await publisher.publish(CHANNEL, event('leave', 'u1'));
    await tick();
    expect(fresh.transport.sent).toEqual([]);
    expect(hub.releasePresence(fresh.connection, CHANNEL)).toBe('released');
    expect(fresh.transport.frames()).toEqual([{ type: 'leave', channel: CHANNEL, userId: 'u1' }]);

    // Forced (the last attempt) while overflowed: the hold ends, nothing is sent, and the caller is told.
    const late = connect('c3', 'carol');
    await hub.add(late.connection, CHANNEL, { holdPresence: true });
    for (let i = 0; i < 300; i++) await publisher.publish(CHANNEL, event('join', `v${i}`));
    await tick();
    expect(hub.releasePresence(late.connection, CHANNEL, true)).toBe('lost');
    expect(late.transport.sent).toEqual([]);
    expect(hub.presenceAudience(CHANNEL)).toContain(late.connection);
  });

  it('makes a subscriber waiting for its snapshot read it again after a reset (its snapshot may predate it)', async () => {
    const fresh = connect('c2', 'bob');
    await hub.add(fresh.connection, CHANNEL, { holdPresence: true });
    await publisher.publish(CHANNEL, event('join', 'carol'));
    await publisher.publish(CHANNEL, event('reset', 'dave'));
    await tick();
    expect(resets).toEqual([CHANNEL]);
    expect(hub.releasePresence(fresh.connection, CHANNEL)).toBe('retry');
    expect(fresh.transport.sent).toEqual([]);
    // The hold goes on afresh: events after the reset follow the next snapshot.
    await publisher.publish(CHANNEL, event('leave', 'carol'));
    await tick();
    expect(hub.releasePresence(fresh.connection, CHANNEL)).toBe('released');
    expect(fresh.transport.frames()).toEqual([{ type: 'leave', channel: CHANNEL, userId: 'carol' }]);
  });

  it('keeps its own user’s join when their leave came first (swept and back): the user stays in their own list', async () => {
    const fresh = connect('c2', 'bob');
    await hub.add(fresh.connection, CHANNEL, { holdPresence: true });
    for (const [e, u] of [['join', 'bob'], ['leave', 'bob'], ['join', 'bob']] as const) await publisher.publish(CHANNEL, event(e, u));
    await tick();
    expect(hub.releasePresence(fresh.connection, CHANNEL)).toBe('released');
    // The first join echoes the subscribe and is dropped; the leave and the join after it both matter.
    expect(fresh.transport.frames().map((f) => `${f.type} ${f.userId}`)).toEqual(['leave bob', 'join bob']);
  });

  it('forgets the hold of a subscriber that left', async () => {
    const fresh = connect('c2', 'bob');
    await hub.add(fresh.connection, CHANNEL, { holdPresence: true });
    hub.remove(fresh.connection, CHANNEL);
    expect(hub.releasePresence(fresh.connection, CHANNEL)).toBe('released');
    expect(hub.presenceAudience(CHANNEL)).toEqual([]);
  });
});

describe('MemoryPresence', () => {
  it('publishes one join per user and one leave with their last connection, and suppresses above the limit', async () => {
    const broker = new MemoryBroker();
    const seen: string[] = [];
    broker.onMessage((_channel, payload) => {
      const e = JSON.parse(payload) as PresenceEnvelope;
      seen.push(`${e.event} ${e.userId}`);
    });
    await broker.subscribe(CHANNEL);
    const presence = new MemoryPresence(broker.peer(), { eventLimit: 2 });
    const [a1, a2, b, c] = [connect('a1', 'alice'), connect('a2', 'alice'), connect('b', 'bob'), connect('c', 'carol')].map((x) => x.connection);
    await presence.join(CHANNEL, a1!);
    await presence.join(CHANNEL, a2!);
    await presence.join(CHANNEL, a2!); // twice: no change
    await presence.join(CHANNEL, b!);
    await presence.join(CHANNEL, c!); // 3 > 2: reset
    await presence.join('user:carol', c!); // no presence on user channels
    // Above the limit: `limit` members picked at random (as Redis's HRANDFIELD does), sorted, with their counts.
    const cut = await presence.snapshot(CHANNEL);
    expect(cut.total).toBe(3);
    expect(cut.members).toHaveLength(2);
    expect(cut.members).toEqual([...cut.members].sort((x, y) => x.userId.localeCompare(y.userId)));
    const counts = { alice: 2, bob: 1, carol: 1 } as Record<string, number>;
    for (const m of cut.members) expect(m.connections).toBe(counts[m.userId]);
    await presence.leave(CHANNEL, a1!);
    await presence.leave(CHANNEL, c!); // 3 → 2: reset
    await presence.leave(CHANNEL, a2!);
    await tick();
    expect(seen).toEqual(['join alice', 'join bob', 'reset carol', 'reset carol', 'leave alice']);
    expect(await presence.snapshot(CHANNEL)).toEqual({ members: [{ userId: 'bob', connections: 1 }], total: 1 });
    await broker.close();
  });

  it('samples every member over repeated snapshots above the limit, not always the first by userId', async () => {
    const broker = new MemoryBroker();
    const presence = new MemoryPresence(broker, { eventLimit: 2 });
    const users = ['u1', 'u2', 'u3', 'u4'];
    for (const userId of users) await presence.join(CHANNEL, connect(userId).connection);
    const seen = new Set<string>();
    // A given user is in a random 2 of 4 half the time: one missing from all 60 has odds 4 × 2^-60.
    for (let i = 0; i < 60; i++) for (const m of (await presence.snapshot(CHANNEL)).members) seen.add(m.userId);
    expect([...seen].sort()).toEqual(users);
    await broker.close();
  });
});
