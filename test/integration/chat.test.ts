/**
 * Chat end to end on the local stack: HTTP API (real handlers) → dynalite →
 * a real redis-server → two relay processes (the production bundle) → real
 * WebSocket clients.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, shouldReconnect } from '../../protocol/index.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { apiClient, type ApiResponse } from '../helpers/api.js';
import { eventually, numsub } from '../helpers/redis.js';
import { TestClient } from '../helpers/ws-client.js';

let stack: LocalStack;
const clients: TestClient[] = [];
const token = (sub: string, options?: { ttlSeconds?: number; scopes?: string[] }) => stack.issuer.mint(sub, options);
const connect = async (relay: number, sub: string) => {
  const client = await TestClient.connect(stack.relayUrls[relay]!, await token(sub));
  clients.push(client);
  return client;
};
async function roomWith(owner: string, ...members: string[]): Promise<string> {
  const api = apiClient(stack.apiUrl, await token(owner));
  const { body, status } = await api.post('/rooms', { name: `room of ${owner}` });
  expect(status).toBe(201);
  for (const m of members) expect((await api.post(`/rooms/${body.roomId}/members`, { userId: m })).status).toBe(201);
  return body.roomId;
}

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json' });
  expect(stack.mode).toBe('redis');
  expect(stack.relayUrls).toHaveLength(2);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await stack?.stop();
});

describe('delivery', () => {
  it('delivers a message sent over HTTP to subscribers on both relays exactly once', async () => {
    const roomId = await roomWith('alice', 'bob', 'carol');
    const channel = `room:${roomId}`;
    const bob = await connect(0, 'bob');
    const carol = await connect(1, 'carol');
    expect((await bob.subscribe(channel)).type).toBe('subscribed');
    expect((await carol.subscribe(channel)).type).toBe('subscribed');

    const api = apiClient(stack.apiUrl, await token('alice'));
    const sent = await api.post(`/rooms/${roomId}/messages`, { text: 'hello, town' });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ seq: 1, roomId, userId: 'alice', text: 'hello, town' });

    for (const client of [bob, carol]) {
      await client.waitForMessages(channel, 1);
      const [frame] = client.messages(channel);
      expect(frame).toMatchObject({ type: 'message', channel, seq: 1, id: sent.body.id, event: 'message.created' });
      expect(frame!.data).toMatchObject({ text: 'hello, town', userId: 'alice' });
    }
    // Exactly once: a sentinel sent after it must arrive last, with nothing in between.
    const sentinel = await api.post(`/rooms/${roomId}/messages`, { text: 'sentinel' });
    for (const client of [bob, carol]) {
      await client.next((f) => f.type === 'message' && f.id === sentinel.body.id);
      expect(client.messages(channel).map((m) => m.id)).toEqual([sent.body.id, sentinel.body.id]);
    }
  });

  it('gives 20 concurrent sends seq 1..20 with no gaps or duplicates, and subscribers get all 20', async () => {
    const roomId = await roomWith('alice', 'bob');
    const channel = `room:${roomId}`;
    const bob = await connect(1, 'bob');
    await bob.subscribe(channel);
    const api = apiClient(stack.apiUrl, await token('alice'));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => api.post(`/rooms/${roomId}/messages`, { text: `m${i}` })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(results.map((r) => r.body.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    const history = await api.get(`/rooms/${roomId}/messages?limit=50`);
    expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await bob.waitForMessages(channel, 20);
    expect(new Set(bob.messages(channel).map((m) => m.seq)).size).toBe(20);
  });

  it('returns the stored message for a retry with the same clientMessageId, never a duplicate', async () => {
    const roomId = await roomWith('alice', 'bob');
    const channel = `room:${roomId}`;
    const bob = await connect(0, 'bob');
    await bob.subscribe(channel);
    const api = apiClient(stack.apiUrl, await token('alice'));
    const first = await api.post(`/rooms/${roomId}/messages`, { text: 'once', clientMessageId: 'c-1' });
    const retry = await api.post(`/rooms/${roomId}/messages`, { text: 'once', clientMessageId: 'c-1' });
    const concurrent = await Promise.all([1, 2, 3].map(() => api.post(`/rooms/${roomId}/messages`, { text: 'once', clientMessageId: 'c-1' })));
    expect(first.status).toBe(201);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    for (const r of concurrent) expect(r.body.id).toBe(first.body.id);

    const reused = await api.post(`/rooms/${roomId}/messages`, { text: 'different', clientMessageId: 'c-1' });
    expect(reused).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });

    const history = await api.get(`/rooms/${roomId}/messages`);
    expect(history.body.messages).toHaveLength(1);
    // A replay publishes the stored message again (its first publish may have been lost), at
    // the same seq and id: a subscriber sees one message, once duplicates are dropped by seq
    // as docs/protocol.md asks. A sentinel sent after the retries arrives right behind it.
    const sentinel = await api.post(`/rooms/${roomId}/messages`, { text: 'sentinel' });
    await bob.next((f) => f.type === 'message' && f.id === sentinel.body.id);
    const received = bob.messages(channel);
    expect(received.every((m) => m.seq === sentinel.body.seq || (m.seq === first.body.seq && m.id === first.body.id))).toBe(true);
    expect([...new Set(received.map((m) => m.seq))]).toEqual([first.body.seq, sentinel.body.seq]);
    expect(received.at(-1)!.seq).toBe(sentinel.body.seq);
    expect(sentinel.body.seq).toBe(first.body.seq + 1);
  });

  it('paginates history in ascending seq', async () => {
    const roomId = await roomWith('alice');
    const api = apiClient(stack.apiUrl, await token('alice'));
    for (let i = 1; i <= 7; i++) await api.post(`/rooms/${roomId}/messages`, { text: `m${i}` });
    const seen: number[] = [];
    let afterSeq: number | null = 0;
    let pages = 0;
    while (afterSeq !== null) {
      const page: ApiResponse = await api.get(`/rooms/${roomId}/messages?afterSeq=${afterSeq}&limit=3`);
      expect(page.status).toBe(200);
      seen.push(...page.body.messages.map((m: { seq: number }) => m.seq));
      afterSeq = page.body.nextAfterSeq;
      pages++;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(pages).toBe(3);
    expect((await api.get(`/rooms/${roomId}/messages?afterSeq=5`)).body.messages.map((m: { text: string }) => m.text)).toEqual(['m6', 'm7']);
  });

  it('serves any readable channel on GET /channels/{channel}/messages, the room route being its alias', async () => {
    const roomId = await roomWith('alice', 'bob');
    const alice = apiClient(stack.apiUrl, await token('alice'));
    // A 201 says whether live delivery went out (the message is stored either way).
    const res = await fetch(`${stack.apiUrl}/rooms/${roomId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token('alice')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'm1' }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-townsquare-published')).toBe('true');
    const first = await res.json();
    await alice.post(`/rooms/${roomId}/messages`, { text: 'm2' });

    const bob = apiClient(stack.apiUrl, await token('bob'));
    const alias = await bob.get(`/rooms/${roomId}/messages`);
    const page = await bob.get(`/channels/${encodeURIComponent(`room:${roomId}`)}/messages?afterSeq=0&limit=1`);
    expect(page.status).toBe(200);
    expect(page.body).toEqual({
      messages: [{ seq: 1, id: first.id, event: 'message.created', data: first, ts: Date.parse(first.createdAt) }],
      nextAfterSeq: 1,
    });
    expect(alias.body.messages[0]).toEqual(first);
    expect((await bob.get(`/channels/room:${roomId}/messages?afterSeq=1`)).body.messages.map((m: { data: { text: string } }) => m.data.text)).toEqual(['m2']);

    const mallory = apiClient(stack.apiUrl, await token('mallory'));
    expect((await mallory.get(`/channels/${encodeURIComponent(`room:${roomId}`)}/messages`)).status).toBe(403);
    expect((await bob.get('/channels/user%3Abob/messages')).body).toEqual({ messages: [], nextAfterSeq: null });
    expect((await bob.get('/channels/user%3Aalice/messages')).status).toBe(403);
    expect((await bob.get('/channels/document%3Ad_1/messages')).status).toBe(404);
    expect((await bob.get('/channels/lobby%3Ax/messages')).status).toBe(400);
    expect((await bob.get(`/channels/${encodeURIComponent(`room:${roomId}`)}/messages?limit=500`)).status).toBe(400);
  });

  it('lists the caller\'s rooms only', async () => {
    const a = await roomWith('dora', 'erin');
    const b = await roomWith('erin');
    const mine = await apiClient(stack.apiUrl, await token('dora')).get('/rooms');
    expect(mine.body.rooms.map((r: { roomId: string }) => r.roomId)).toEqual([a]);
    const erins = await apiClient(stack.apiUrl, await token('erin')).get('/rooms');
    expect(erins.body.rooms.map((r: { roomId: string }) => r.roomId).sort()).toEqual([a, b].sort());
  });
});

describe('authorization', () => {
  it('refuses a non-member\'s send with 403 and publishes nothing', async () => {
    const roomId = await roomWith('alice');
    const watcher = new Redis(stack.redisUrl!);
    const seen: string[] = [];
    await watcher.subscribe(`room:${roomId}`);
    watcher.on('message', (_c, m) => seen.push(m));
    const mallory = apiClient(stack.apiUrl, await token('mallory'));
    const res = await mallory.post(`/rooms/${roomId}/messages`, { text: 'let me in' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect((await mallory.get(`/rooms/${roomId}/messages`)).status).toBe(403);
    // A member's message sent after the refusal is the first (and only) thing on the channel, with seq 1.
    const alice = apiClient(stack.apiUrl, await token('alice'));
    const sentinel = await alice.post(`/rooms/${roomId}/messages`, { text: 'sentinel' });
    expect(sentinel.body.seq).toBe(1);
    await eventually(() => seen.length > 0, 5000, 'the sentinel');
    expect(seen.map((m) => JSON.parse(m).id)).toEqual([sentinel.body.id]);
    const history = await alice.get(`/rooms/${roomId}/messages`);
    expect(history.body.messages).toEqual([sentinel.body]);
    watcher.disconnect();
  });

  it('answers a non-member\'s subscribe with an error frame and keeps the connection', async () => {
    const roomId = await roomWith('alice');
    const mallory = await connect(0, 'mallory');
    const reply = await mallory.subscribe(`room:${roomId}`);
    expect(reply).toMatchObject({ type: 'error', code: 'forbidden' });
    expect((await mallory.request({ type: 'subscribe', channel: 'user:alice' }))).toMatchObject({ type: 'error', code: 'forbidden' });
    expect((await mallory.request({ type: 'subscribe', channel: 'user:mallory' })).type).toBe('subscribed');
    expect((await mallory.request({ type: 'ping' })).type).toBe('pong');
  });

  it('ignores a forged user id in the body: the token decides who sends', async () => {
    const roomId = await roomWith('alice', 'bob');
    const api = apiClient(stack.apiUrl, await token('bob'));
    const res = await api.post(`/rooms/${roomId}/messages`, { text: 'hi', userId: 'alice' });
    expect(res.status).toBe(201);
    expect(res.body.userId).toBe('bob');
  });

  it('401s a missing, invalid or expired token; the relay closes with 4005 (expired: reconnect with a new token) or 4501 (terminal)', async () => {
    const roomId = await roomWith('alice');
    const path = `/rooms/${roomId}/messages`;
    const expired = await token('alice', { ttlSeconds: -60 });
    // A validly signed token for mallory with its payload swapped for alice's claims.
    const [header, , signature] = (await token('mallory')).split('.');
    const alicePayload = (await token('alice')).split('.')[1];
    const forged = `${header}.${alicePayload}.${signature}`;
    expect((await apiClient(stack.apiUrl).get(path)).status).toBe(401);
    expect((await apiClient(stack.apiUrl, 'not-a-jwt').get(path)).status).toBe(401);
    expect((await apiClient(stack.apiUrl, forged).get(path)).status).toBe(401);
    expect((await apiClient(stack.apiUrl, expired).get(path))).toEqual({ status: 401, body: { message: 'Unauthorized' } });

    for (const [bad, code] of [
      [expired, CloseCode.TokenExpired],
      [forged, CloseCode.Unauthorized],
      ['not-a-jwt', CloseCode.Unauthorized],
    ] as const) {
      const ws = await TestClient.open(stack.relayUrls[0]!);
      ws.send({ type: 'auth', token: bad });
      expect((await ws.closed).code).toBe(code);
    }
    const silent = await TestClient.open(stack.relayUrls[1]!);
    silent.send({ type: 'subscribe', channel: 'user:x' });
    expect((await silent.closed).code).toBe(CloseCode.Unauthorized);
  });

  it('closes a socket with 4005 (reconnect with a new token) when its token expires', async () => {
    const client = await TestClient.connect(stack.relayUrls[0]!, await token('alice', { ttlSeconds: 2 }));
    const closed = await client.closed;
    expect(closed).toEqual({ code: CloseCode.TokenExpired, reason: 'token expired' });
    expect(shouldReconnect(closed.code)).toBe(true);
  });

  it('stops delivery to a removed member\'s open sockets at once', async () => {
    const roomId = await roomWith('alice', 'bob', 'carol');
    const channel = `room:${roomId}`;
    const bobs = [await connect(0, 'bob'), await connect(1, 'bob')];
    const carol = await connect(1, 'carol');
    for (const c of [...bobs, carol]) await c.subscribe(channel);
    for (const bob of bobs) await bob.subscribe('user:bob');
    const alice = apiClient(stack.apiUrl, await token('alice'));
    expect((await alice.delete(`/rooms/${roomId}/members/bob`)).status).toBe(204);
    for (const bob of bobs) {
      expect(await bob.next((f) => f.type === 'unsubscribed' && f.channel === channel)).toMatchObject({ reason: 'access_revoked' });
    }
    await alice.post(`/rooms/${roomId}/messages`, { text: 'after bob left' });
    await carol.waitForMessages(channel, 1);
    // A sentinel bob does receive, published after carol got the message: had the message
    // reached bob's sockets (on both relays, in Redis order), it would have come before it.
    const sentinelSender = await connect(1, 'bob');
    await sentinelSender.subscribe('user:bob');
    sentinelSender.send({ type: 'signal', channel: 'user:bob', event: 'sentinel' });
    for (const bob of bobs) {
      await bob.next((f) => f.type === 'signal' && f.event === 'sentinel');
      expect(bob.messages(channel)).toHaveLength(0);
    }
    expect((await bobs[0]!.subscribe(channel))).toMatchObject({ type: 'error', code: 'forbidden' });
    // A plain member may not remove the owner (only the owner and admins remove others); members may leave.
    const carolApi = apiClient(stack.apiUrl, await token('carol'));
    expect((await carolApi.delete(`/rooms/${roomId}/members/alice`)).status).toBe(403);
    expect((await carolApi.delete(`/rooms/${roomId}/members/carol`)).status).toBe(204);
  });
});

describe('bad input', () => {
  it('answers malformed JSON, wrong types and oversize bodies with 400 / 413 and stores nothing', async () => {
    const roomId = await roomWith('alice');
    const api = apiClient(stack.apiUrl, await token('alice'));
    const path = `/rooms/${roomId}/messages`;
    const malformed = await api.postRaw(path, '{"text": ');
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    const wrongType = await api.post(path, { text: 42 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error.message).toContain('body.text');
    expect((await api.post(path, { text: '' })).status).toBe(400);
    expect((await api.post(path, { text: 'x', clientMessageId: 'has spaces' })).status).toBe(400);
    expect((await api.post(path, { text: 'x'.repeat(70 * 1024) })).status).toBe(413);
    expect((await api.post('/rooms', { name: ['x'] })).status).toBe(400);
    expect((await api.get(`/rooms/${roomId}/messages?limit=0`)).status).toBe(400);
    expect((await api.get('/rooms/not%20an%20id/messages')).status).toBe(400);
    expect((await api.get('/rooms/r_doesnotexist/messages')).status).toBe(404);
    expect((await api.get('/rooms/%E0%A4%A/messages')).status).toBe(404); // malformed escape: no route
    expect((await api.get(path)).body.messages).toEqual([]);
  });

  it('answers malformed and unknown frames with error frames, refuses oversize frames, and keeps serving others', async () => {
    const roomId = await roomWith('alice', 'bob');
    const channel = `room:${roomId}`;
    const bob = await connect(0, 'bob');
    await bob.subscribe(channel);
    const eve = await connect(0, 'eve');

    eve.send('{not json');
    expect(await eve.next((f) => f.type === 'error' && f.code === 'invalid_json')).toBeTruthy();
    expect(await eve.request({ type: 'launch-missiles' })).toMatchObject({ type: 'error', code: 'unknown_type' });
    expect(await eve.request({ type: 'subscribe', channel: 42 })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await eve.request({ type: 'subscribe', channel: 'weird:thing' })).toMatchObject({ type: 'error', code: 'invalid_channel' });
    expect(await eve.request({ type: 'unsubscribe', channel })).toMatchObject({ type: 'error', code: 'not_subscribed' });
    expect((await eve.request({ type: 'ping' })).type).toBe('pong');

    eve.send({ type: 'ping', pad: 'x'.repeat(100 * 1024) });
    expect((await eve.closed).code).toBe(CloseCode.FrameTooLarge);

    await apiClient(stack.apiUrl, await token('alice')).post(`/rooms/${roomId}/messages`, { text: 'still here' });
    await bob.waitForMessages(channel, 1);
    expect((await bob.request({ type: 'ping' })).type).toBe('pong');
  });

  it('cuts off a client that stops reading with 4009 while others keep receiving', async () => {
    const roomId = await roomWith('alice', 'bob');
    const channel = `room:${roomId}`;
    const stalled = await connect(0, 'alice');
    const bob = await connect(0, 'bob');
    await stalled.subscribe(channel);
    await bob.subscribe(channel);
    const slowCutoffs = async () => {
      const text = await (await fetch(`${stack.relays[0]!.url}/metrics`)).text();
      return Number(/relay_disconnects_total\{reason="slow"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const cutoffsBefore = await slowCutoffs();
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();

    // 30 MB of valid envelopes straight into Redis: far beyond kernel buffers plus MAX_BUFFERED_BYTES.
    const publisher = new Redis(stack.redisUrl!);
    const data = { text: 'x'.repeat(10_000) };
    const publishing = (async () => {
      for (let seq = 1; seq <= 3000; seq++) {
        await publisher.publish(channel, JSON.stringify({ v: 1, kind: 'message', channel, seq, id: `m${seq}`, event: 'message.created', data, ts: Date.now() }));
      }
    })();
    // Reading again once it is cut off: the relay gives a client that never reads its close
    // frame 2 s before dropping the connection (1006), which a slow machine could exceed.
    await eventually(async () => (await slowCutoffs()) > cutoffsBefore, 15_000, 'the relay to cut the stalled client off');
    (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await publishing;
    publisher.disconnect();
    await bob.waitForMessages(channel, 3000, 15_000);

    expect((await stalled.closed).code).toBe(CloseCode.TooSlow);
    expect(stalled.messages(channel).length).toBeLessThan(3000);
  });

  it('cuts off a flooding client with 4008', async () => {
    const flooder = await connect(1, 'flood');
    for (let i = 0; i < 300; i++) flooder.send({ type: 'ping' });
    expect((await flooder.closed).code).toBe(CloseCode.PolicyViolation);
  });
});

describe('subscriptions', () => {
  it('holds one Redis subscription per channel per relay and leaves none once clients disconnect', async () => {
    const roomId = await roomWith('alice', 'bob');
    const channel = `room:${roomId}`;
    const local = [await connect(0, 'alice'), await connect(0, 'bob'), await connect(0, 'alice'), await connect(1, 'bob')];
    for (const c of local) await c.subscribe(channel);
    expect(await numsub(stack.redisUrl!, channel)).toBe(2); // one per relay, not one per socket
    await local[0]!.request({ type: 'unsubscribe', channel });
    await local[3]!.close();
    await eventually(async () => (await numsub(stack.redisUrl!, channel)) === 1, 5000, 'relay 2 to release');
    await Promise.all(local.map((c) => c.close()));
    await eventually(async () => (await numsub(stack.redisUrl!, channel)) === 0, 5000, 'no orphan subscriptions');
  });

  it('accepts commands pipelined right behind the auth frame', async () => {
    const roomId = await roomWith('alice');
    const raw = await TestClient.open(stack.relayUrls[0]!);
    clients.push(raw);
    raw.send({ type: 'auth', token: await token('alice') });
    raw.send({ type: 'subscribe', channel: `room:${roomId}`, ref: 'early' });
    raw.send({ type: 'ping', ref: 'p' });
    expect(await raw.next((f) => f.ref === 'early')).toMatchObject({ type: 'subscribed' });
    await raw.next((f) => f.ref === 'p');
    // A room has presence: its member snapshot follows `subscribed`, before the next command's reply.
    expect(raw.frames.map((f) => f.type)).toEqual(['welcome', 'subscribed', 'presence', 'pong']);
  });

  it('carries signals to the other subscribers, not back to the sender, and reports presence', async () => {
    const roomId = await roomWith('alice', 'bob');
    const channel = `room:${roomId}`;
    const alice = await connect(0, 'alice');
    const bob = await connect(1, 'bob');
    await alice.subscribe(channel);
    await bob.subscribe(channel);
    alice.send({ type: 'signal', channel, event: 'typing', data: { on: true } });
    expect(await bob.next((f) => f.type === 'signal')).toEqual({ type: 'signal', channel, event: 'typing', userId: 'alice', data: { on: true } });
    const presence = await bob.request({ type: 'presence', channel });
    expect(presence).toMatchObject({ type: 'presence', channel, members: [{ userId: 'alice', connections: 1 }, { userId: 'bob', connections: 1 }] });
    // Bob's answer was published after alice's signal: an echo of hers would arrive before it.
    bob.send({ type: 'signal', channel, event: 'typing', data: { on: false } });
    await alice.next((f) => f.type === 'signal');
    expect(alice.frames.filter((f) => f.type === 'signal')).toEqual([{ type: 'signal', channel, event: 'typing', userId: 'bob', data: { on: false } }]);
    expect(await alice.request({ type: 'signal', channel: 'room:r_other', event: 'typing' })).toMatchObject({ code: 'not_subscribed' });
  });
});
