/**
 * Notifications end to end on the local stack: the API Gateway stand-in and
 * the real handlers, dynalite, a real redis-server, two relay processes (the
 * production bundle) and real WebSocket clients on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { MAX_NOTIFY_BODY_BYTES } from '../../protocol/index.js';
import { apiClient } from '../helpers/api.js';
import { TestClient } from '../helpers/ws-client.js';

let stack: LocalStack;
const clients: TestClient[] = [];
let counter = 0;
/** A fresh user id per use: tests share one stack. */
const fresh = (name: string) => `${name}-n${++counter}`;
const api = async (sub: string, scopes: string[] = []) => apiClient(stack.apiUrl, await stack.issuer.mint(sub, { scopes }));
const backend = () => api('backend-svc', ['notify']);
const connect = async (relay: number, sub: string) => {
  const client = await TestClient.connect(stack.relayUrls[relay]!, await stack.issuer.mint(sub));
  clients.push(client);
  return client;
};
const note = (userIds: string[], extra: Record<string, unknown> = {}) => ({ userIds, type: 'order.shipped', title: 'Shipped', body: 'Your order is on its way', ...extra });
const notifications = (c: TestClient, user: string) => c.messages(`user:${user}`).filter((m) => m.event === 'notification');

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json' });
  expect(stack.mode).toBe('redis');
  expect(stack.relayUrls).toHaveLength(2);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await stack?.stop();
});

describe('POST /notifications', () => {
  it('notifies exactly the 3 of 4 users named, live on both relays and in their inboxes, with the same id', async () => {
    const users = ['ann', 'ben', 'cat', 'dan'].map(fresh);
    const sockets = await Promise.all(users.map((u, i) => connect(i % 2, u)));
    await Promise.all(sockets.map((s, i) => s.subscribe(`user:${users[i]}`)));
    const recipients = users.slice(0, 3);

    const res = await (await backend()).post('/notifications', note(recipients, { data: { orderId: 42 } }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ stored: 3, duplicates: 0, failed: 0 });
    expect(res.body.results.map((r: { userId: string; status: string }) => [r.userId, r.status])).toEqual(recipients.map((u) => [u, 'stored']));

    for (const [i, user] of recipients.entries()) {
      const frame = await sockets[i]!.next((f) => f.type === 'message' && f.event === 'notification');
      const result = res.body.results[i];
      expect(frame).toMatchObject({ channel: `user:${user}`, seq: result.seq, id: result.id });
      expect(frame.data).toMatchObject({ id: result.id, type: 'order.shipped', title: 'Shipped', data: { orderId: 42 }, read: false });
      const inbox = await (await api(user)).get('/me/notifications');
      expect(inbox.body.items).toEqual([frame.data]);
      expect((await (await api(user)).get('/me/notifications/unread-count')).body).toEqual({ unread: 1 });
    }
    // The fourth got nothing: a sentinel to it arrives, and it is its only notification.
    const sentinel = await (await backend()).post('/notifications', note([users[3]!], { title: 'sentinel' }));
    await sockets[3]!.next((f) => f.type === 'message' && f.id === sentinel.body.results[0].id);
    expect(notifications(sockets[3]!, users[3]!).map((m) => (m.data as { title: string }).title)).toEqual(['sentinel']);
    for (const [i, user] of recipients.entries()) expect(notifications(sockets[i]!, user)).toHaveLength(1);
  });

  it('stores 1,000 recipients in one call and delivers to each subscribed one', { timeout: 120_000 }, async () => {
    const users = Array.from({ length: 1000 }, () => fresh('bulk'));
    const watched = users.filter((_, i) => i % 25 === 0); // 40 subscribers, 20 per relay
    const sockets = await Promise.all(watched.map((u, i) => connect(i % 2, u)));
    await Promise.all(sockets.map((s, i) => s.subscribe(`user:${watched[i]}`)));

    const res = await (await backend()).post('/notifications', note(users, { idempotencyKey: `bulk-${counter}` }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ stored: 1000, duplicates: 0, failed: 0 });
    expect(new Set(res.body.results.map((r: { id: string }) => r.id)).size).toBe(1000);
    expect(res.body.results.every((r: { published: boolean }) => r.published)).toBe(true);
    await Promise.all(sockets.map((s, i) => s.next((f) => f.type === 'message' && f.id === res.body.results[i * 25].id, 10_000)));
    // Stored for the unwatched ones too.
    const last = users.at(-1)!;
    expect((await (await api(last)).get('/me/notifications')).body.items.map((n: { id: string }) => n.id)).toEqual([res.body.results[999].id]);
  });

  it('notifies nobody twice on retries with the same key: sequential, concurrent, and with more recipients', async () => {
    const users = ['eve', 'fay', 'gus'].map(fresh);
    const sockets = await Promise.all(users.map((u, i) => connect(i % 2, u)));
    await Promise.all(sockets.map((s, i) => s.subscribe(`user:${users[i]}`)));
    const client = await backend();
    const body = note(users.slice(0, 2), { idempotencyKey: `retry-${counter}` });
    const first = await client.post('/notifications', body);
    expect(first.body).toMatchObject({ stored: 2, duplicates: 0 });

    // Two concurrent retries, plus one adding a recipient: each user exactly once. A retry that comes while
    // another call with the key is writing gets 409 (that call may be between its inbox items and its entries).
    const [a, b, c] = await Promise.all([
      client.post('/notifications', body),
      client.post('/notifications', body),
      client.post('/notifications', { ...body, userIds: users }),
    ]);
    expect([a, b, c].filter((r) => r.status !== 409).length).toBeGreaterThan(0);
    for (const r of [a, b]) {
      expect([200, 409]).toContain(r.status);
      if (r.status === 200) expect(r.body).toMatchObject({ stored: 0, duplicates: 2, failed: 0, unknown: 0 });
      else expect(r.body.error.message).toContain('retry shortly');
    }
    expect([201, 409]).toContain(c.status);
    // Retried once every call is over: never refused, never stored twice.
    const added = c.status === 201 ? c : await client.post('/notifications', { ...body, userIds: users });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ stored: 1, duplicates: 2 });
    expect(added.body.results.slice(0, 2).map((r: { id: string }) => r.id)).toEqual(first.body.results.map((r: { id: string }) => r.id));
    expect(await client.post('/notifications', body)).toMatchObject({ status: 200, body: { stored: 0, duplicates: 2 } });

    // A sentinel to each, then: exactly one notification live, one in the inbox, one on the channel's history.
    const sentinel = await client.post('/notifications', note(users, { title: 'sentinel' }));
    for (const [i, user] of users.entries()) {
      await sockets[i]!.next((f) => f.type === 'message' && f.id === sentinel.body.results[i].id);
      expect(notifications(sockets[i]!, user).map((m) => (m.data as { title: string }).title)).toEqual(['Shipped', 'sentinel']);
      const inbox = await (await api(user)).get('/me/notifications');
      expect(inbox.body.items.map((n: { title: string }) => n.title)).toEqual(['sentinel', 'Shipped']);
      const history = await (await api(user)).get(`/channels/${encodeURIComponent(`user:${user}`)}/messages`);
      expect(history.body.messages.filter((m: { event: string }) => m.event === 'notification')).toHaveLength(2);
    }

    // The same key with other content is a conflict, and stores nothing.
    const reused = await client.post('/notifications', { ...body, title: 'Different' });
    expect(reused).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
  });

  it('lets only one of two concurrent first attempts with one key write; the other is told to retry, and nobody gets it twice', async () => {
    const users = ['hal', 'hana', 'hugo'].map(fresh);
    const client = await backend();
    const body = note(users, { title: 'raced', idempotencyKey: `race-${counter}` });
    const answers = await Promise.all([client.post('/notifications', body), client.post('/notifications', body), client.post('/notifications', body)]);
    // Whoever wrote stored everyone; a call that came while it was writing got 409; one that came after, duplicates.
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 201)) {
      expect([200, 409]).toContain(a.status);
      if (a.status === 409) expect(a.body.error.message).toContain('retry shortly');
    }
    const retried = await client.post('/notifications', body);
    expect(retried).toMatchObject({ status: 200, body: { stored: 0, duplicates: 3 } });
    for (const user of users) {
      const items = (await (await api(user)).get('/me/notifications')).body.items;
      expect(items.map((n: { title: string }) => n.title)).toEqual(['raced']);
      const history = await (await api(user)).get(`/channels/${encodeURIComponent(`user:${user}`)}/messages`);
      expect(history.body.messages.filter((m: { event: string }) => m.event === 'notification')).toHaveLength(1);
    }
  });

  it('refuses an end-user token, or one with another scope, with the gateway 403, storing nothing', async () => {
    const user = fresh('ivy');
    const denied = await (await api(user)).post('/notifications', note([user]));
    expect(denied).toEqual({ status: 403, body: { message: 'Forbidden' } });
    const other = await (await api(user, ['read'])).post('/notifications', note([user]));
    expect(other.status).toBe(403);
    expect((await (await api(user)).get('/me/notifications/unread-count')).body).toEqual({ unread: 0 });
  });

  it('enforces its limits with clear errors and stores nothing', async () => {
    const client = await backend();
    const user = fresh('lim');
    const cases: Array<[unknown, number, string]> = [
      [note([]), 400, 'body.userIds'],
      [note(Array.from({ length: 1001 }, (_, i) => `u${i}`)), 400, 'body.userIds'],
      [note(['not a user id']), 400, 'body.userIds.0'],
      [note([user], { type: 'has space' }), 400, 'body.type'],
      [note([user], { title: '' }), 400, 'body.title'],
      [note([user], { title: 'x'.repeat(201) }), 400, 'body.title'],
      [note([user], { body: 'x'.repeat(2001) }), 400, 'body.body'],
      [note([user], { data: { blob: 'x'.repeat(5000) } }), 413, 'data: larger than 4096 bytes'],
      [note([user], { data: [[[[[[[[[1]]]]]]]]] }), 400, 'data: nested deeper than 8 levels'],
      [note([user], { data: Array.from({ length: 300 }, () => 0) }), 400, 'data: more than 256'],
      [note([user], { idempotencyKey: 'no spaces allowed' }), 400, 'body.idempotencyKey'],
      [note([user], { data: { big: 2 ** 60 } }), 400, 'data.big: numbers must be'],
      [note([user], { data: [1e-200] }), 400, 'data.0: numbers must be'],
      [note([user], { data: { a: { '': 1 } } }), 400, 'data.a: object keys must not be empty'],
    ];
    for (const [body, status, text] of cases) {
      const res = await client.post('/notifications', body);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.error.message).toContain(text);
    }
    const huge = await client.postRaw('/notifications', JSON.stringify(note([user], { pad: 'x'.repeat(MAX_NOTIFY_BODY_BYTES) })));
    expect(huge).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    expect((await (await api(user)).get('/me/notifications')).body.items).toEqual([]);
  });

  it('takes 1,000 recipients of 128-character ids, and notifies a duplicated id once', async () => {
    const client = await backend();
    const long = Array.from({ length: 1000 }, (_, i) => `${'l'.repeat(120)}${String(i).padStart(8, '0')}`);
    const res = await client.post('/notifications', note([...long.slice(0, 3), long[0]!], { title: 'long ids' }));
    expect(res.body).toMatchObject({ stored: 3 });
    expect(res.body.results).toHaveLength(3);
    const dry = await client.post('/notifications', { ...note(long), type: 'bad type' });
    expect(dry.status).toBe(400); // under the body limit (about 131 KB), refused for its type only
  });
});

describe('the inbox', () => {
  it('lists newest first with cursor pages and an unread filter; marks are idempotent and pushed to other devices', async () => {
    const user = fresh('jo');
    const client = await backend();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await client.post('/notifications', note([user], { title: `n${i}` }))).body.results[0].id);
    const me = await api(user);
    const tab = await connect(1, user);
    await tab.subscribe(`user:${user}`);

    const page1 = await me.get('/me/notifications?limit=2');
    expect(page1.body.items.map((n: { title: string }) => n.title)).toEqual(['n4', 'n3']);
    const page2 = await me.get(`/me/notifications?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((n: { title: string }) => n.title)).toEqual(['n2', 'n1']);
    const page3 = await me.get(`/me/notifications?limit=2&cursor=${page2.body.nextCursor}`);
    expect(page3.body).toEqual({ items: [expect.objectContaining({ title: 'n0' })] });

    expect((await me.post(`/me/notifications/${ids[3]}/read`)).body).toEqual({ unread: 4 });
    expect((await me.post(`/me/notifications/${ids[3]}/read`)).body).toEqual({ unread: 4 }); // idempotent
    const event = await tab.next((f) => f.type === 'message' && f.event === 'notification.read');
    expect(event.data).toEqual({ ids: [ids[3]], unread: 4 });

    const unread = await me.get('/me/notifications?unread=true');
    expect(unread.body.items.map((n: { title: string }) => n.title)).toEqual(['n4', 'n2', 'n1', 'n0']);
    expect(unread.body.items.every((n: { read: boolean }) => !n.read)).toBe(true);
    expect((await me.get('/me/notifications?limit=5')).body.items.map((n: { read: boolean }) => n.read)).toEqual([false, true, false, false, false]);

    expect((await me.post('/me/notifications/read-all')).body).toEqual({ unread: 0 });
    expect((await me.post('/me/notifications/read-all')).body).toEqual({ unread: 0 });
    await tab.next((f) => f.type === 'message' && f.event === 'notification.read' && (f.data as { all?: boolean }).all === true);
    // Exactly two read events: the repeated marks changed nothing and pushed nothing.
    const sentinel = (await client.post('/notifications', note([user], { title: 'after' }))).body.results[0].id;
    await tab.next((f) => f.type === 'message' && f.id === sentinel);
    expect(tab.messages(`user:${user}`).filter((m) => m.event === 'notification.read')).toHaveLength(2);
    expect((await me.get('/me/notifications?unread=true')).body.items.map((n: { title: string }) => n.title)).toEqual(['after']);
  });

  it('answers 404 for an unknown notification, 400 for a malformed id, cursor or flag', async () => {
    const me = await api(fresh('kim'));
    expect((await me.post('/me/notifications/000000000-AAAAAAAAAAAAAAAA/read')).body.error.code).toBe('not_found');
    expect((await me.post('/me/notifications/nope/read')).status).toBe(400);
    expect((await me.get('/me/notifications?cursor=garbage')).status).toBe(400);
    expect((await me.get('/me/notifications?unread=yes')).status).toBe(400);
    expect((await me.get('/me/notifications?limit=101')).status).toBe(400);
    expect((await me.get('/me/notifications?limit=0')).status).toBe(400);
  });

  it('keeps the unread count exact through racing marks and arrivals (separate HTTP calls in parallel)', async () => {
    const user = fresh('race');
    const client = await backend();
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => client.post('/notifications', note([user], { title: `a${i}` }))));
    const firstIds = first.map((r) => r.body.results[0].id as string);
    const me = await api(user);
    // Each of the 20 marked twice (from two "devices"), while 15 more arrive and a reader counts.
    const marks = [...firstIds, ...firstIds].map((id) => me.post(`/me/notifications/${id}/read`));
    const arrivals = Array.from({ length: 15 }, (_, i) => client.post('/notifications', note([user], { title: `b${i}` })));
    const counts = Array.from({ length: 10 }, () => me.get('/me/notifications/unread-count'));
    const [markResults, arrivalResults, countResults] = await Promise.all([Promise.all(marks), Promise.all(arrivals), Promise.all(counts)]);
    expect(markResults.every((r) => r.status === 200)).toBe(true);
    expect(arrivalResults.every((r) => r.status === 201)).toBe(true);
    for (const c of countResults) expect(c.body.unread).toBeGreaterThanOrEqual(0);
    for (const c of countResults) expect(c.body.unread).toBeLessThanOrEqual(35);

    expect((await me.get('/me/notifications/unread-count')).body).toEqual({ unread: 15 });
    const listed = await me.get('/me/notifications?unread=true&limit=100');
    expect(listed.body.items.map((n: { title: string }) => n.title).sort()).toEqual(Array.from({ length: 15 }, (_, i) => `b${i}`).sort());

    // read-all racing 10 more arrivals: whatever read-all missed is still counted exactly.
    const [all, ...more] = await Promise.all([
      me.post('/me/notifications/read-all'),
      ...Array.from({ length: 10 }, (_, i) => client.post('/notifications', note([user], { title: `c${i}` }))),
    ]);
    expect(all.status).toBe(200);
    expect(more.every((r) => r.status === 201)).toBe(true);
    const left = await me.get('/me/notifications?unread=true&limit=100');
    expect((await me.get('/me/notifications/unread-count')).body).toEqual({ unread: left.body.items.length });
    expect(left.body.items.every((n: { title: string }) => n.title.startsWith('c'))).toBe(true);
  });
});

describe('mentions', () => {
  it('notifies mentioned members only: not the sender, not a non-member, not an email in running text', async () => {
    const [owner, member, outsider] = ['mo', 'mia', 'max'].map(fresh) as [string, string, string];
    const ownerApi = await api(owner);
    const room = (await ownerApi.post('/rooms', { name: 'mentions' })).body.roomId;
    expect((await ownerApi.post(`/rooms/${room}/members`, { userId: member })).status).toBe(201);
    const memberTab = await connect(0, member);
    await memberTab.subscribe(`user:${member}`);

    const text = `hey @${member}, @${outsider} and @${owner}: mail ${member}@example.com`;
    const sent = await ownerApi.post(`/rooms/${room}/messages`, { text, clientMessageId: `m-${counter}` });
    expect(sent.status).toBe(201);
    const frame = await memberTab.next((f) => f.type === 'message' && f.event === 'notification');
    expect(frame.data).toMatchObject({ type: 'mention', body: text, data: { roomId: room, messageId: sent.body.id, seq: sent.body.seq } });
    expect((await (await api(member)).get('/me/notifications')).body.items).toHaveLength(1);
    expect((await (await api(outsider)).get('/me/notifications')).body.items).toEqual([]);
    expect((await ownerApi.get('/me/notifications')).body.items).toEqual([]);

    // A retried send (same clientMessageId) notifies nobody again.
    expect((await ownerApi.post(`/rooms/${room}/messages`, { text, clientMessageId: `m-${counter}` })).status).toBe(200);
    expect((await (await api(member)).get('/me/notifications')).body.items).toHaveLength(1);
  });
});

describe('user channels', () => {
  it("refuses another user's user: channel, to subscribe and to read history", async () => {
    const [owner, snoop] = ['uo', 'us'].map(fresh) as [string, string];
    await (await backend()).post('/notifications', note([owner]));
    const socket = await connect(1, snoop);
    expect(await socket.subscribe(`user:${owner}`)).toMatchObject({ type: 'error', code: 'forbidden' });
    expect((await socket.subscribe(`user:${snoop}`)).type).toBe('subscribed');
    const history = await (await api(snoop)).get(`/channels/${encodeURIComponent(`user:${owner}`)}/messages`);
    expect(history).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect((await (await api(owner)).get(`/channels/${encodeURIComponent(`user:${owner}`)}/messages`)).body.messages).toHaveLength(1);
  });
});
