/**
 * Presence that pushes, on relay processes (the production bundle) sharing a
 * real redis-server: the member snapshot after `subscribed`, join/leave per
 * user (not per tab) across relays, leaves from unsubscribe, close, revoke and
 * a SIGKILLed relay (timed against the documented ghost bound, with a crowd
 * larger than one sweep batch on one room), relays racing on one user,
 * suppression above the event limit, and presence failing or stalling while
 * subscriptions keep working.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../protocol/index.js';
import { startRelayProcess, type RelayProcess } from '../../local/relay-process.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { PRESENCE_HEARTBEAT_MS, PRESENCE_TTL_MS } from '../../socket-relay/presence-rules.js';
import { SWEEP_BATCH } from '../../socket-relay/presence-scripts.js';
import { apiClient } from '../helpers/api.js';
import { eventually } from '../helpers/redis.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/** The documented bound (docs/protocol.md): TTL + one heartbeat, within the 30 s. */
const GHOST_BOUND_MS = PRESENCE_TTL_MS + PRESENCE_HEARTBEAT_MS;

let stack: LocalStack;
const relays: RelayProcess[] = [];
const clients: TestClient[] = [];
const token = (sub: string) => stack.issuer.mint(sub);
const api = async (sub = 'owner') => apiClient(stack.apiUrl, await token(sub));

async function connect(relay: RelayProcess, sub: string): Promise<TestClient> {
  const client = await TestClient.connect(relay.wsUrl, await token(sub));
  clients.push(client);
  return client;
}

/** A new room whose members are `owner` and `users`. */
async function room(users: string[]): Promise<string> {
  const owner = await api();
  const roomId = (await owner.post('/rooms', { name: 'presence' })).body.roomId as string;
  for (const userId of users) expect((await owner.post(`/rooms/${roomId}/members`, { userId })).status).toBe(201);
  return `room:${roomId}`;
}

const roomPath = (channel: string) => `/rooms/${channel.slice('room:'.length)}`;

/** Runs `work` on every item, at most `width` at once. */
async function inBatches<T>(items: T[], width: number, work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(work));
}

async function subscribe(client: TestClient, channel: string): Promise<Frame> {
  const reply = await client.subscribe(channel);
  expect(reply).toMatchObject({ type: 'subscribed', channel });
  return client.next((f) => f.type === 'presence' && f.channel === channel && f.ref === undefined);
}

const presenceEvents = (client: TestClient, channel: string, userId?: string) =>
  client.frames.filter((f) => (f.type === 'join' || f.type === 'leave') && f.channel === channel && (!userId || f.userId === userId));
const members = (frame: Frame) => (frame.members as Array<{ userId: string }>).map((m) => m.userId);

async function metric(relay: RelayProcess, line: string): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const at = text.split('\n').find((l) => l.startsWith(`${line} `));
  return at ? Number(at.slice(line.length + 1)) : 0;
}

/** A frame that must arrive after every event published before it on the channel: a signal from `sender`. */
async function sentinel(sender: TestClient, observers: TestClient[], channel: string): Promise<void> {
  const id = Math.random().toString(36).slice(2);
  sender.send({ type: 'signal', channel, event: 'test.sentinel', data: id });
  for (const o of observers) if (o !== sender) await o.next((f) => f.type === 'signal' && f.event === 'test.sentinel' && f.data === id, 10_000);
}

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json', relays: 0 });
  relays.push(...(await Promise.all([startRelayProcess(stack.relayEnv), startRelayProcess(stack.relayEnv)])));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await Promise.all(relays.map((r) => r.stop('SIGKILL')));
  await stack?.stop();
});

describe('presence pushes', () => {
  it('sends the member snapshot right after subscribed, then join and leave across relays', async () => {
    const channel = await room(['alice', 'bob']);
    const alice = await connect(relays[0]!, 'alice');
    expect(members(await subscribe(alice, channel))).toEqual(['alice']);

    const bob = await connect(relays[1]!, 'bob');
    const snapshot = await subscribe(bob, channel);
    expect(snapshot).toEqual({ type: 'presence', channel, members: [{ userId: 'alice', connections: 1 }, { userId: 'bob', connections: 1 }], total: 2 });
    // Nothing about presence reaches bob before his snapshot: his own join (held meanwhile) follows it.
    const order = bob.frames.filter((f) => f.channel === channel).map((f) => f.type);
    expect(order.slice(0, 2)).toEqual(['subscribed', 'presence']);
    expect(await alice.next((f) => f.type === 'join' && f.userId === 'bob')).toEqual({ type: 'join', channel, userId: 'bob' });

    expect(await bob.request({ type: 'unsubscribe', channel })).toMatchObject({ type: 'unsubscribed' });
    expect(await alice.next((f) => f.type === 'leave' && f.userId === 'bob')).toEqual({ type: 'leave', channel, userId: 'bob' });
    expect(presenceEvents(alice, channel, 'bob').map((f) => f.type)).toEqual(['join', 'leave']);
    // The query answers the same set, with its ref.
    expect(await alice.request({ type: 'presence', channel })).toMatchObject({ type: 'presence', channel, members: [{ userId: 'alice', connections: 1 }], total: 1 });
  });

  it('counts a user with two tabs on two relays once: one join, and a leave only when both are gone', async () => {
    const channel = await room(['watcher', 'carol', 'dave']);
    const watcher = await connect(relays[0]!, 'watcher');
    await subscribe(watcher, channel);
    const tab1 = await connect(relays[0]!, 'carol');
    const tab2 = await connect(relays[1]!, 'carol');
    await subscribe(tab1, channel);
    const second = await subscribe(tab2, channel);
    expect(second.members).toEqual([{ userId: 'carol', connections: 2 }, { userId: 'watcher', connections: 1 }]);
    await watcher.next((f) => f.type === 'join' && f.userId === 'carol');

    await tab1.close();
    // Once Redis shows one tab left, a later join is published after whatever that close published.
    await eventually(async () => JSON.stringify((await watcher.request({ type: 'presence', channel })).members).includes('"connections":1}]'), 5000, 'the first tab to be gone');
    const dave = await connect(relays[1]!, 'dave');
    await subscribe(dave, channel);
    await watcher.next((f) => f.type === 'join' && f.userId === 'dave');
    expect(presenceEvents(watcher, channel, 'carol').map((f) => f.type)).toEqual(['join']);

    await tab2.close();
    await watcher.next((f) => f.type === 'leave' && f.userId === 'carol');
    expect(presenceEvents(watcher, channel, 'carol').map((f) => f.type)).toEqual(['join', 'leave']);
  });

  it('announces a leave for an unsubscribe, a closed socket and a revoked membership alike', async () => {
    const channel = await room(['obs', 'u1', 'u2', 'u3']);
    const observers = [await connect(relays[0]!, 'obs'), await connect(relays[1]!, 'obs')];
    for (const o of observers) await subscribe(o, channel);
    const [u1, u2, u3] = [await connect(relays[1]!, 'u1'), await connect(relays[0]!, 'u2'), await connect(relays[1]!, 'u3')];
    for (const u of [u1, u2, u3]) await subscribe(u, channel);

    await u1.request({ type: 'unsubscribe', channel });
    await u2.close();
    const owner = await api();
    expect((await owner.delete(`${roomPath(channel)}/members/u3`)).status).toBe(204);
    expect(await u3.next((f) => f.type === 'unsubscribed' && f.reason === 'access_revoked')).toBeTruthy();

    for (const o of observers) {
      for (const userId of ['u1', 'u2', 'u3']) await o.next((f) => f.type === 'leave' && f.userId === userId);
      expect(['u1', 'u2', 'u3'].map((u) => presenceEvents(o, channel, u).map((f) => f.type))).toEqual([['join', 'leave'], ['join', 'leave'], ['join', 'leave']]);
    }
    expect(members(await observers[0]!.request({ type: 'presence', channel }))).toEqual(['obs']);
  });

  it('never announces a join twice nor loses a leave while relays race on the same users', async () => {
    const racers = ['r1', 'r2', 'r3'];
    const channel = await room(['obs', 'sender', ...racers]);
    const observers = [await connect(relays[0]!, 'obs'), await connect(relays[1]!, 'obs')];
    for (const o of observers) await subscribe(o, channel);
    // Each racer: two tabs on each relay, every tab subscribing and unsubscribing in a loop at once.
    const tabs = new Map<string, TestClient[]>();
    for (const userId of racers) {
      tabs.set(userId, await Promise.all([0, 0, 1, 1].map((r) => connect(relays[r]!, userId))));
    }
    const ROUNDS = 12;
    const cycle = async (tab: TestClient) => {
      for (let i = 0; i < ROUNDS; i++) {
        expect((await tab.subscribe(channel)).type).toBe('subscribed');
        if (Math.random() < 0.5) await new Promise((r) => setTimeout(r, Math.random() * 5));
        expect((await tab.request({ type: 'unsubscribe', channel })).type).toBe('unsubscribed');
      }
    };
    await Promise.all([...tabs.values()].flat().map(cycle));
    // r3 ends present (one tab subscribed again); the others end absent.
    await tabs.get('r3')![3]!.subscribe(channel);

    const sender = await connect(relays[0]!, 'sender');
    await subscribe(sender, channel);
    await sentinel(sender, observers, channel);
    for (const [i, o] of observers.entries()) {
      for (const userId of racers) {
        const seen = presenceEvents(o, channel, userId).map((f) => f.type);
        const expected = Array.from({ length: seen.length }, (_, k) => (k % 2 === 0 ? 'join' : 'leave'));
        expect({ observer: i, userId, seen }).toEqual({ observer: i, userId, seen: expected });
        expect(seen.at(-1)).toBe(userId === 'r3' ? 'join' : 'leave');
      }
    }
    expect(members(await observers[0]!.request({ type: 'presence', channel }))).toEqual(['obs', 'r3', 'sender']);
  }, 60_000);

  it(`announces every user of a SIGKILLed relay as gone within the ghost bound (${GHOST_BOUND_MS / 1000} s), a crowd of more than ${SWEEP_BATCH} on one room too`, async () => {
    const users = ['k1', 'k2', 'k3', 'k4', 'k5'];
    const channels = [await room(['obs', ...users]), await room(['obs', ...users])];
    // More entries of the dead relay on one room than one script run sweeps.
    const crowd = Array.from({ length: SWEEP_BATCH + 50 }, (_, i) => `crowd${i}`);
    const crowdRoom = await room(['obs']);
    const owner = await api();
    await inBatches(crowd, 10, async (userId) => expect((await owner.post(`${roomPath(crowdRoom)}/members`, { userId })).status).toBe(201));
    const victim = await startRelayProcess(stack.relayEnv);
    relays.push(victim);
    const observers = [await connect(relays[0]!, 'obs'), await connect(relays[1]!, 'obs')];
    for (const o of observers) for (const channel of channels) await subscribe(o, channel);
    // Only the first relay holds the crowd's room: its heartbeat alone sweeps it.
    const crowdObserver = observers[0]!;
    await subscribe(crowdObserver, crowdRoom);
    for (const userId of users) {
      const client = await connect(victim, userId);
      for (const channel of channels) await subscribe(client, channel);
    }
    await inBatches(crowd, 10, async (userId) => subscribe(await connect(victim, userId), crowdRoom));
    for (const o of observers) for (const channel of channels) for (const userId of users) await o.next((f) => f.type === 'join' && f.channel === channel && f.userId === userId);
    for (const userId of crowd) await crowdObserver.next((f) => f.type === 'join' && f.channel === crowdRoom && f.userId === userId);
    // A heartbeat or two rewrite the entries first (the crowd's in one run): the bound holds from any point of the cycle.
    await new Promise((r) => setTimeout(r, PRESENCE_HEARTBEAT_MS * (1 + Math.random()) + 1000));

    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    const leftAfter: number[] = [];
    const crowdLeftAfter: number[] = [];
    const leave = async (o: TestClient, channel: string, userId: string, into: number[]) => {
      await o.next((f) => f.type === 'leave' && f.channel === channel && f.userId === userId, GHOST_BOUND_MS + 10_000);
      into.push(Date.now() - killedAt);
    };
    await Promise.all([
      ...observers.flatMap((o) => channels.flatMap((channel) => users.map((userId) => leave(o, channel, userId, leftAfter)))),
      ...crowd.map((userId) => leave(crowdObserver, crowdRoom, userId, crowdLeftAfter)),
    ]);
    const all = [...leftAfter, ...crowdLeftAfter].sort((a, b) => a - b);
    const [min, median, max] = [all[0]!, all[Math.floor(all.length / 2)]!, all.at(-1)!];
    const crowdSpread = Math.max(...crowdLeftAfter) - Math.min(...crowdLeftAfter);
    console.info(`ghost bound: ${all.length} leaves after a SIGKILL: min ${min} ms, median ${median} ms, max ${max} ms (bound ${GHOST_BOUND_MS} ms); the crowd of ${crowd.length} within ${crowdSpread} ms`);
    // Not before the TTL less one heartbeat (the entries were live), not after the bound (plus delivery slack).
    expect(min).toBeGreaterThanOrEqual(PRESENCE_TTL_MS - PRESENCE_HEARTBEAT_MS - 500);
    expect(max).toBeLessThanOrEqual(GHOST_BOUND_MS + 2000);
    // One batch per heartbeat would take two heartbeats for the crowd; swept again at once, it leaves together.
    expect(crowdSpread).toBeLessThan(PRESENCE_HEARTBEAT_MS / 2);
    for (const o of observers) for (const channel of channels) expect(members(await o.request({ type: 'presence', channel }))).toEqual(['obs']);
    expect(members(await crowdObserver.request({ type: 'presence', channel: crowdRoom }))).toEqual(['obs']);
    expect((await metric(relays[0]!, 'relay_presence_swept_total')) + (await metric(relays[1]!, 'relay_presence_swept_total'))).toBe(users.length * channels.length + crowd.length);
  }, 120_000);

  it('announces the users of a draining relay (SIGTERM) as gone at once, not after the TTL', async () => {
    const channel = await room(['obs', 'd1', 'd2']);
    const draining = await startRelayProcess({ ...stack.relayEnv, DRAIN_TIMEOUT_MS: '2000' });
    relays.push(draining);
    const observer = await connect(relays[0]!, 'obs');
    await subscribe(observer, channel);
    for (const userId of ['d1', 'd2']) await subscribe(await connect(draining, userId), channel);
    await observer.next((f) => f.type === 'join' && f.userId === 'd2');
    const stoppedAt = Date.now();
    expect(await draining.stop('SIGTERM')).toBe(0);
    for (const userId of ['d1', 'd2']) await observer.next((f) => f.type === 'leave' && f.userId === userId);
    // The sweep could not have done it this early: the entries had at least TTL - heartbeat to live.
    console.info(`drain: leaves ${Date.now() - stoppedAt} ms after SIGTERM`);
    expect(Date.now() - stoppedAt).toBeLessThan(PRESENCE_TTL_MS - PRESENCE_HEARTBEAT_MS);
    expect(members(await observer.request({ type: 'presence', channel }))).toEqual(['obs']);
  });

  it('the keys of a channel nobody holds any more expire on their own', async () => {
    const channel = await room(['solo']);
    const solo = await connect(relays[0]!, 'solo');
    await subscribe(solo, channel);
    const redis = new Redis(stack.redisUrl!);
    try {
      expect(await redis.pttl(`presence:{${channel}}`)).toBeGreaterThan(PRESENCE_TTL_MS);
      expect(await redis.pttl(`presence:{${channel}}:users`)).toBeGreaterThan(PRESENCE_TTL_MS);
      expect(await redis.pttl(`presence:{${channel}}`)).toBeLessThanOrEqual(2 * PRESENCE_TTL_MS);
      await solo.close();
      // The last leave removes both keys at once.
      await eventually(async () => (await redis.exists(`presence:{${channel}}`, `presence:{${channel}}:users`)) === 0, 5000, 'the keys to go');
    } finally {
      redis.disconnect();
    }
  });

  it('refuses the presence query on a user channel (no presence there) and sends no snapshot for it', async () => {
    const zed = await connect(relays[0]!, 'zed');
    expect(await zed.subscribe('user:zed')).toMatchObject({ type: 'subscribed' });
    expect(await zed.request({ type: 'presence', channel: 'user:zed' })).toMatchObject({ type: 'error', code: ErrorCode.BadRequest });
    expect(zed.frames.filter((f) => f.type === 'presence')).toEqual([]);
  });
});

describe('above the event limit', () => {
  const LIMIT = 3;
  let limited: RelayProcess[];
  beforeAll(async () => {
    const env = { ...stack.relayEnv, PRESENCE_EVENT_LIMIT: String(LIMIT) };
    limited = await Promise.all([startRelayProcess(env), startRelayProcess(env)]);
    relays.push(...limited);
  });

  it('suppresses join/leave, sends a fresh snapshot when the limit is crossed either way, and cuts snapshots to the limit', async () => {
    const users = ['p1', 'p2', 'p3', 'p4', 'p5'];
    const channel = await room(users);
    const tabs: TestClient[] = [];
    const join = async (i: number) => {
      const client = await connect(limited[i % 2]!, users[i]!);
      tabs[i] = client;
      return subscribe(client, channel);
    };
    await join(0);
    const observer = tabs[0]!;
    await join(1);
    await join(2); // 3 present: at the limit, still announced
    await observer.next((f) => f.type === 'join' && f.userId === 'p3');
    const snapshotsBefore = observer.frames.filter((f) => f.type === 'presence' && f.ref === undefined).length;

    await join(3); // 4 > 3: crossing up is a reset, not a join
    const reset = await observer.next((f) => f.type === 'presence' && f.ref === undefined && f.total === 4);
    expect(reset.members).toHaveLength(LIMIT);
    const fifth = await join(4); // suppressed
    expect(fifth.total).toBe(5);
    expect(fifth.members).toHaveLength(LIMIT);
    await sentinel(tabs[1]!, [observer], channel);
    // The observer's own join may race its snapshot (which already lists it) and come after it: allowed by the
    // contract (clients hold a set), so it is left out here; every other event is exact.
    const othersEvents = () => presenceEvents(observer, channel).filter((f) => !(f.type === 'join' && f.userId === 'p1'));
    expect(othersEvents().map((f) => f.userId)).toEqual(['p2', 'p3']);

    await tabs[4]!.close(); // 5 → 4: suppressed
    await eventually(async () => (await observer.request({ type: 'presence', channel })).total === 4, 5000, 'the fifth to leave');
    await tabs[3]!.close(); // 4 → 3: crossing down, a reset: the full list again
    // Within one resnapshot interval (5 s) of the first reset: this one waits for its end.
    const back = await observer.next((f) => f.type === 'presence' && f.ref === undefined && f.total === 3, 10_000);
    expect(members(back)).toEqual(['p1', 'p2', 'p3']);
    await tabs[2]!.close(); // 3 → 2: announced again
    await observer.next((f) => f.type === 'leave' && f.userId === 'p3');
    expect(othersEvents().map((f) => `${f.type} ${f.userId}`)).toEqual(['join p2', 'join p3', 'leave p3']);
    expect(observer.frames.filter((f) => f.type === 'presence' && f.ref === undefined).length).toBe(snapshotsBefore + 2);
    const suppressed = async (event: string) =>
      (await metric(limited[0]!, `relay_presence_events_total{event="${event}",outcome="suppressed"}`)) +
      (await metric(limited[1]!, `relay_presence_events_total{event="${event}",outcome="suppressed"}`));
    expect(await suppressed('join')).toBe(1);
    expect(await suppressed('leave')).toBe(1);
  });
});

describe('the presence query', () => {
  it('spends the user’s subscribe budget, shared across their connections on a relay', async () => {
    const budgeted = await startRelayProcess({ ...stack.relayEnv, SUBSCRIBE_RATE: '1', SUBSCRIBE_BURST: '3' });
    relays.push(budgeted);
    const channel = await room(['gus']);
    const [tab1, tab2] = [await connect(budgeted, 'gus'), await connect(budgeted, 'gus')];
    await subscribe(tab1, channel); // 1 of 3
    expect(await tab1.request({ type: 'presence', channel })).toMatchObject({ type: 'presence', total: 1 }); // 2 of 3
    await subscribe(tab2, channel); // 3 of 3
    expect(await tab2.request({ type: 'presence', channel })).toMatchObject({ type: 'error', code: ErrorCode.RateLimited });
    expect(await tab1.request({ type: 'presence', channel })).toMatchObject({ type: 'error', code: ErrorCode.RateLimited });
    await new Promise((r) => setTimeout(r, 1100)); // one token back
    expect(await tab1.request({ type: 'presence', channel })).toMatchObject({ type: 'presence', members: [{ userId: 'gus', connections: 2 }], total: 1 });
  });
});

describe('when presence fails', () => {
  it('answers subscribe, and the commands after it, within the presence timeouts while Redis holds the script back', async () => {
    const channel = await room(['paula']);
    const paula = await connect(relays[0]!, 'paula');
    const admin = new Redis(stack.redisUrl!);
    const PAUSE_MS = 9000;
    try {
      // Scripts (and so presence) wait; SUBSCRIBE and the membership store do not.
      await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
      const started = Date.now();
      expect(await paula.subscribe(channel)).toMatchObject({ type: 'subscribed', channel });
      expect(await paula.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      const answeredAfter = Date.now() - started;
      console.info(`presence stalled: subscribe and the ping after it answered in ${answeredAfter} ms (Redis paused ${PAUSE_MS} ms)`);
      // The join's 2 s and the snapshot's 2 s, not the pause.
      expect(answeredAfter).toBeLessThan(PAUSE_MS - 2000);
      expect(paula.frames.filter((f) => f.type === 'presence')).toEqual([]);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
      admin.disconnect();
    }
    // The join went on behind the timeout and lands once Redis runs scripts again.
    await eventually(async () => members(await paula.request({ type: 'presence', channel })).includes('paula'), 5000, 'paula to be present');
  });

  it('still subscribes and delivers, without a snapshot; the query says unavailable; failures are counted', async () => {
    // A Redis user that may use pub/sub but not run scripts: presence fails, delivery does not.
    const admin = new Redis(stack.redisUrl!);
    await admin.call('ACL', 'SETUSER', 'noscripts', 'on', '>pw', '~*', '&*', '+@all', '-eval', '-evalsha', '-script');
    admin.disconnect();
    const url = new URL(stack.redisUrl!);
    url.username = 'noscripts';
    url.password = 'pw';
    const broken = await startRelayProcess({ ...stack.relayEnv, REDIS_URL: url.toString() });
    relays.push(broken);
    const channel = await room(['frank']);
    const frank = await connect(broken, 'frank');
    expect(await frank.subscribe(channel)).toMatchObject({ type: 'subscribed', channel });
    expect(await frank.request({ type: 'presence', channel })).toMatchObject({ type: 'error', code: ErrorCode.Unavailable });
    expect(frank.frames.filter((f) => f.type === 'presence')).toEqual([]);
    const sent = await (await api()).post(`${roomPath(channel)}/messages`, { text: 'still delivered' });
    expect(sent.status).toBe(201);
    await frank.next((f) => f.type === 'message' && f.seq === sent.body.seq);
    expect(await metric(broken, 'relay_presence_errors_total{op="join"}')).toBeGreaterThanOrEqual(1);
    expect(broken.child.exitCode).toBeNull();
  });
});
