/**
 * The SDK's behaviours against the real local stack (relays as processes,
 * Redis, dynalite, the API), plus a hostile relay and a failing history
 * server for the error paths a healthy stack never takes.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { Townsquare, TownsquareError, type ErrorEvent, type FetchLike, type Message, type TownsquareOptions } from '../../client/src/index.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { apiClient } from '../helpers/api.js';
import { eventually } from '../helpers/redis.js';
import { createRoom, NodeWebSocket } from '../helpers/sdk-harness.js';

let stack: LocalStack;
let roomId: string;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json' });
  roomId = await createRoom(stack, 'alice', ['bob', 'carol'], 'sdk');
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await stack?.stop();
});

function sdk(user: string, options: Partial<TownsquareOptions> = {}): Townsquare {
  const ts = new Townsquare({ relayUrls: stack.relayUrls, apiUrl: stack.apiUrl, getToken: () => stack.issuer.mint(user), WebSocket: NodeWebSocket, browserEvents: false, ...options });
  cleanups.push(() => ts.close());
  return ts;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const errorsOf = (ts: Townsquare) => {
  const errors: ErrorEvent[] = [];
  ts.on('error', (e) => errors.push(e));
  return errors;
};

describe('connection', () => {
  it('stops for good on a terminal auth close and says so', async () => {
    const ts = sdk('bob', { getToken: async () => 'not-a-jwt' });
    const errors = errorsOf(ts);
    const states: Array<{ state: string; code?: number; terminal?: boolean }> = [];
    ts.on('state', (s) => states.push({ state: s.state, code: s.code, terminal: s.terminal }));
    ts.connect();
    await eventually(() => ts.state === 'closed', 5000, 'a terminal close');
    await sleep(1500); // no reconnect attempt follows
    expect(states).toEqual([{ state: 'connecting' }, { state: 'closed', code: 4501, terminal: true }]);
    expect(errors.find((e) => e.kind === 'transport')?.message).toMatch(/for good \(4501/);
  });

  it('delivers a durable message once to each subscriber, and nothing after unsubscribe or close', async () => {
    const bob = sdk('bob').connect();
    const got: Message[] = [];
    const sub = bob.subscribe(`room:${roomId}`);
    expect(bob.subscribe(`room:${roomId}`)).toBe(sub); // idempotent per channel
    sub.on('message', (m) => got.push(m));
    await new Promise<void>((r) => sub.on('subscribed', () => r()));
    expect(bob.userId).toBe('bob');
    const alice = sdk('alice');
    const sent = await alice.send(roomId, 'hello');
    await eventually(() => got.some((m) => m.id === sent.id) , 5000, 'the message');
    expect(got.at(-1)).toMatchObject({ channel: `room:${roomId}`, seq: sent.seq, event: 'message.created', data: sent });
    sub.unsubscribe();
    expect(sub.state).toBe('unsubscribed');
    const before = got.length;
    await alice.send(roomId, 'after unsubscribe');
    await sleep(500);
    expect(got.length).toBe(before);
    bob.close();
    expect(bob.state).toBe('closed');
    await expect(bob.send(roomId, 'x')).rejects.toMatchObject({ code: 'closed' });
  });
});

describe('subscribing again', () => {
  it('resumes after the last seq this client delivered: nothing is delivered twice after an unsubscribe', async () => {
    const room = await createRoom(stack, 'alice', ['bob'], 'resume');
    const alice = sdk('alice');
    const bob = sdk('bob').connect();
    const got: number[] = [];
    let sub = bob.subscribe(`room:${room}`);
    sub.on('message', (m) => got.push(m.seq));
    for (const t of ['a', 'b', 'c']) await alice.send(room, t);
    await eventually(() => got.length === 3, 5000, 'the first three');
    sub.unsubscribe();
    for (const t of ['d', 'e']) await alice.send(room, t);
    sub = bob.subscribe(`room:${room}`);
    sub.on('message', (m) => got.push(m.seq));
    const subscribed = await new Promise<{ recovered: boolean; lastSeq: number }>((r) => sub.on('subscribed', r));
    expect(subscribed).toMatchObject({ recovered: true, lastSeq: 5 });
    expect(got).toEqual([1, 2, 3, 4, 5]);
    // An explicit `since` still chooses.
    sub.unsubscribe();
    const replay: number[] = [];
    const again = bob.subscribe(`room:${room}`, { since: 3 });
    again.on('message', (m) => replay.push(m.seq));
    await eventually(() => replay.length === 2, 5000, 'the replay');
    expect(replay).toEqual([4, 5]);
  });
});

describe('send', () => {
  it('retries a send whose response was lost with the same clientMessageId: stored once, in order', async () => {
    let lose = 3;
    const lossy: FetchLike = async (url, init) => {
      const res = await (globalThis.fetch as unknown as FetchLike)(url, init);
      if (init.method === 'POST' && url.includes('/messages') && lose-- > 0) throw new TypeError('fetch failed: connection reset');
      return res;
    };
    const alice = sdk('alice', { fetch: lossy });
    const room = await createRoom(stack, 'alice', [], 'lossy');
    const sent = await Promise.all(['a', 'b', 'c'].map((t) => alice.send(room, t)));
    expect(lose).toBeLessThan(0);
    expect(sent.map((m) => [m.seq, m.text])).toEqual([[1, 'a'], [2, 'b'], [3, 'c']]);
    const history = await apiClient(stack.apiUrl, await stack.issuer.mint('alice')).get(`/rooms/${room}/messages?afterSeq=0`);
    expect(history.body.messages.map((m: { text: string }) => m.text)).toEqual(['a', 'b', 'c']);
  });

  it('queues while offline, refuses beyond maxQueuedSends with a clear error, and sends the queue when back', async () => {
    let offline = true;
    const flaky: FetchLike = (url, init) => (offline ? Promise.reject(new TypeError('fetch failed: offline')) : (globalThis.fetch as unknown as FetchLike)(url, init));
    const alice = sdk('alice', { fetch: flaky, maxQueuedSends: 2 });
    const room = await createRoom(stack, 'alice', [], 'offline-queue');
    const first = alice.send(room, 'one');
    const second = alice.send(room, 'two');
    const third = await alice.send(room, 'three').catch((e: unknown) => e);
    expect(third).toBeInstanceOf(TownsquareError);
    expect(third).toMatchObject({ code: 'send_queue_full' });
    await sleep(600);
    offline = false;
    alice.check(); // what the `online` event does
    expect((await first).text).toBe('one');
    expect((await second).seq).toBe(2);
  });

  it('rejects a send the API refuses (not a member) without retrying, with an error event', async () => {
    const room = await createRoom(stack, 'alice', [], 'private');
    const mallory = sdk('mallory');
    const errors = errorsOf(mallory);
    const err = await mallory.send(room, 'let me in').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TownsquareError', status: 403, code: 'forbidden' });
    expect(errors.map((e) => e.kind)).toEqual(['send']);
  });
});

describe('presence and signals', () => {
  it('keeps the member set from the snapshot plus join/leave, across relays', async () => {
    const room = await createRoom(stack, 'alice', ['bob', 'carol'], 'presence');
    const bob = sdk('bob', { relayUrls: [stack.relayUrls[0]!] }).connect();
    const bobSub = bob.subscribe(`room:${room}`);
    const joined: string[] = [];
    const left: string[] = [];
    bobSub.on('join', (e) => joined.push(e.userId));
    bobSub.on('leave', (e) => left.push(e.userId));
    await eventually(() => bobSub.members.includes('bob'), 5000, 'bob in his own snapshot');
    const carol = sdk('carol', { relayUrls: [stack.relayUrls[1]!] }).connect();
    const carolSub = carol.subscribe(`room:${room}`);
    await eventually(() => bobSub.members.join() === 'bob,carol', 5000, 'carol joining');
    expect(joined).toContain('carol');
    await eventually(() => carolSub.members.join() === 'bob,carol', 5000, "carol's snapshot");
    carolSub.unsubscribe();
    await eventually(() => bobSub.members.join() === 'bob', 5000, 'carol leaving');
    expect(left).toEqual(['carol']);
  });

  it('throttles signals client-side and the last one always goes out', async () => {
    const room = await createRoom(stack, 'alice', ['bob', 'carol'], 'signals');
    const bob = sdk('bob', { relayUrls: [stack.relayUrls[0]!], signalIntervalMs: 200 }).connect();
    const carol = sdk('carol', { relayUrls: [stack.relayUrls[1]!] }).connect();
    const bobSub = bob.subscribe(`room:${room}`);
    const carolSub = carol.subscribe(`room:${room}`);
    const seen: Array<{ event: string; userId: string; data: unknown }> = [];
    carolSub.on('signal', (s) => seen.push(s));
    await eventually(() => bobSub.state === 'subscribed' && carolSub.members.includes('bob'), 5000, 'both subscribed');
    for (let n = 1; n <= 30; n++) bobSub.signal('typing', { n });
    expect(() => bobSub.signal('bad event!', {})).toThrow(TypeError);
    expect(() => bobSub.signal('typing', { pad: 'x'.repeat(5000) })).toThrow(RangeError);
    await eventually(() => seen.some((s) => (s.data as { n: number }).n === 30), 5000, 'the last signal');
    expect(seen.length).toBeLessThanOrEqual(3);
    expect(seen[0]).toEqual({ event: 'typing', userId: 'bob', data: { n: 1 } });
  });
});

describe('signals on many events', () => {
  it("stay within the connection's budget: the relay never cuts the socket (4508) nor refuses them, and the latest value of each arrives", async () => {
    const room = await createRoom(stack, 'alice', ['bob', 'carol'], 'signal-budget');
    const bob = sdk('bob', { relayUrls: [stack.relayUrls[0]!] }).connect();
    const carol = sdk('carol', { relayUrls: [stack.relayUrls[1]!] }).connect();
    const bobErrors = errorsOf(bob);
    const bobStates: string[] = [];
    bob.on('state', (s) => bobStates.push(s.state));
    const bobSub = bob.subscribe(`room:${room}`);
    const carolSub = carol.subscribe(`room:${room}`);
    const latest = new Map<string, number>();
    let received = 0;
    carolSub.on('signal', (s) => {
      received++;
      latest.set(s.event, (s.data as { n: number }).n);
    });
    await eventually(() => bobSub.state === 'subscribed' && carolSub.members.includes('bob'), 5000, 'both subscribed');
    bobStates.length = 0;
    // Ten cursors moving every 10 ms for 4 s: 100 signals/s after the per-event throttle, twice
    // the relay's FRAME_RATE (50/s, burst 150) and five times its SIGNAL_RATE (20/s, burst 40).
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < 4000) {
      n++;
      for (let e = 0; e < 10; e++) bobSub.signal(`cursor${e}`, { n });
      await sleep(10);
    }
    await eventually(() => [...Array(10).keys()].every((e) => latest.get(`cursor${e}`) === n), 10_000, 'the last value of every cursor');
    expect(bobStates).toEqual([]);
    expect(bob.state).toBe('connected');
    expect(bobErrors.filter((e) => e.kind === 'server' || e.kind === 'transport')).toEqual([]);
    // 15 per second plus the burst of 30, over about 4 s and the drain after it.
    const seconds = (Date.now() - started) / 1000;
    expect(received).toBeLessThanOrEqual(30 + Math.ceil(15 * seconds) + 5);
  }, 30_000);
});

describe('notifications', () => {
  it('delivers notifications and read events live from user:{me}, next to the inbox helpers', async () => {
    const dave = sdk('dave').connect();
    const notes: Array<{ id: string; title: string }> = [];
    const reads: unknown[] = [];
    dave.notifications.on('notification', (n) => notes.push(n));
    dave.notifications.on('read', (r) => reads.push(r));
    await eventually(() => dave.subscription('user:dave')?.state === 'subscribed', 5000, 'the user channel');
    const server = apiClient(stack.apiUrl, await stack.issuer.mint('backend', { scopes: ['notify'] }));
    const posted = await server.post('/notifications', { userIds: ['dave'], type: 'order.shipped', title: 'Shipped', body: 'Your order left' });
    expect(posted.status).toBe(201);
    await eventually(() => notes.length === 1, 5000, 'the live notification');
    const inbox = await dave.notifications.list({ unread: true });
    expect(inbox.items.map((n) => n.id)).toEqual([notes[0]!.id]);
    expect(await dave.notifications.unreadCount()).toBe(1);
    expect(await dave.notifications.markRead(notes[0]!.id)).toMatchObject({ unread: 0 });
    await eventually(() => reads.length === 1, 5000, 'the read event');
    expect(reads[0]).toMatchObject({ ids: [notes[0]!.id], unread: 0 });
  });
});

describe('a hostile relay and a failing history server', () => {
  let relay: WebSocketServer;
  let api: Server;
  let historyCalls = 0;
  beforeAll(async () => {
    relay = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    relay.on('connection', (ws) => {
      ws.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as { type: string; ref?: number; channel?: string };
        if (frame.type === 'auth') ws.send(JSON.stringify({ type: 'welcome', connectionId: 'c1', userId: 'bob', expiresAt: Date.now() + 3_600_000 }));
        if (frame.type === 'subscribe') {
          ws.send(JSON.stringify({ type: 'subscribed', channel: frame.channel, ref: frame.ref }));
          const live = (seq: number) => JSON.stringify({ type: 'message', channel: 'room:r1', seq, id: `m${seq}`, event: 'e', data: { seq }, ts: 1 });
          setTimeout(() => {
            ws.send('this is not json');
            ws.send(JSON.stringify({ type: 'message', channel: 'room:r1', seq: 'eleven' }));
            ws.send(JSON.stringify({ type: 'teleport', channel: 'room:r1' }));
            ws.send(live(11));
            ws.send(live(12));
          }, 1500);
        }
        if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong', ref: frame.ref }));
      });
    });
    api = createServer((req, res) => {
      historyCalls++;
      if (historyCalls === 1) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"code":"internal","message":"boom"}}');
        return;
      }
      // History lost seqs 1-9 to retention: the page says so.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ messages: [{ seq: 10, id: 'm10', event: 'e', data: { seq: 10 }, ts: 1 }], nextAfterSeq: null, truncated: true, firstSeq: 10 }));
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    relay.close();
    await new Promise((r) => api.close(r));
  });

  it('reports bad frames and failed history with context, never throws, ignores unknown types, and says what history lost', async () => {
    const ts = sdk('bob', { relayUrls: `ws://127.0.0.1:${(relay.address() as { port: number }).port}/ws`, apiUrl: `http://127.0.0.1:${(api.address() as { port: number }).port}` }).connect();
    const errors = errorsOf(ts);
    const sub = ts.subscribe('room:r1');
    const got: number[] = [];
    const gaps: unknown[] = [];
    const subscribed: unknown[] = [];
    sub.on('message', (m) => {
      got.push(m.seq);
      throw new Error('an app bug');
    });
    sub.on('gap', (g) => gaps.push(g));
    sub.on('subscribed', (e) => subscribed.push(e));
    await eventually(() => got.length === 3, 10_000, 'messages 10-12');
    expect(got).toEqual([10, 11, 12]);
    expect(gaps).toEqual([{ fromSeq: 1, toSeq: 9, reason: 'expired' }]);
    expect(subscribed).toEqual([{ recovered: false, lastSeq: 10, resubscribed: false }]);
    const history = errors.find((e) => e.kind === 'history')!;
    expect(history.context).toMatchObject({ channel: 'room:r1', afterSeq: 0, status: 500, code: 'internal' });
    const frames = errors.filter((e) => e.kind === 'frame');
    expect(frames.map((e) => e.message)).toEqual(['frame is not JSON', 'invalid `message` frame at seq']);
    expect(frames[1]!.context).toMatchObject({ type: 'message' });
    expect(errors.filter((e) => e.kind === 'listener')).toHaveLength(3);
    expect(ts.state).toBe('connected');
    expect(sub.state).toBe('subscribed');
  });
});
