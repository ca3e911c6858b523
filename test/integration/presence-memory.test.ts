/**
 * Presence pushes in the Redis-less local stack (one in-process relay on the
 * in-memory broker, MemoryPresence): the same frames as with Redis, in the
 * same order — snapshot after `subscribed`, join/leave per user, and a fresh
 * snapshot instead of events across the event limit (3 here), holding a random
 * pick of the members above it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { apiClient } from '../helpers/api.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

const LIMIT = 3;
let stack: LocalStack;
const clients: TestClient[] = [];
const token = (sub: string) => stack.issuer.mint(sub);

async function connect(sub: string): Promise<TestClient> {
  const client = await TestClient.connect(stack.relayUrls[0]!, await token(sub));
  clients.push(client);
  return client;
}

async function room(users: string[]): Promise<string> {
  const owner = apiClient(stack.apiUrl, await token('owner'));
  const roomId = (await owner.post('/rooms', { name: 'presence' })).body.roomId as string;
  for (const userId of users) expect((await owner.post(`/rooms/${roomId}/members`, { userId })).status).toBe(201);
  return `room:${roomId}`;
}

async function subscribe(client: TestClient, channel: string): Promise<Frame> {
  expect(await client.subscribe(channel)).toMatchObject({ type: 'subscribed', channel });
  return client.next((f) => f.type === 'presence' && f.channel === channel && f.ref === undefined);
}

const events = (client: TestClient, channel: string) =>
  client.frames.filter((f) => (f.type === 'join' || f.type === 'leave') && f.channel === channel).map((f) => `${f.type} ${f.userId}`);

beforeAll(async () => {
  stack = await startLocalStack({ memory: true, keyFile: '.local/test-keys.json', relayEnv: { PRESENCE_EVENT_LIMIT: String(LIMIT) } });
  expect(stack.mode).toBe('memory');
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await stack?.stop();
});

describe('presence in memory mode', () => {
  it('snapshot after subscribed, one join per user however many tabs, leave for unsubscribe, close and revoke', async () => {
    const channel = await room(['alice', 'bob', 'carol', 'dave']);
    const alice = await connect('alice');
    expect(await subscribe(alice, channel)).toEqual({ type: 'presence', channel, members: [{ userId: 'alice', connections: 1 }], total: 1 });
    const bob1 = await connect('bob');
    const bob2 = await connect('bob');
    await subscribe(bob1, channel);
    expect((await subscribe(bob2, channel)).members).toEqual([{ userId: 'alice', connections: 1 }, { userId: 'bob', connections: 2 }]);
    const carol = await connect('carol');
    await subscribe(carol, channel);

    await bob1.close();
    await bob2.request({ type: 'unsubscribe', channel });
    await alice.next((f) => f.type === 'leave' && f.userId === 'bob');
    const owner = apiClient(stack.apiUrl, await token('owner'));
    expect((await owner.delete(`/rooms/${channel.slice(5)}/members/carol`)).status).toBe(204);
    await alice.next((f) => f.type === 'leave' && f.userId === 'carol');
    expect(events(alice, channel)).toEqual(['join bob', 'join carol', 'leave bob', 'leave carol']);
    expect(await alice.request({ type: 'presence', channel })).toMatchObject({ members: [{ userId: 'alice', connections: 1 }], total: 1 });
  });

  it('suppresses events above the limit and sends a fresh snapshot when it is crossed', async () => {
    const users = ['m1', 'm2', 'm3', 'm4'];
    const channel = await room(users);
    const tabs: TestClient[] = [];
    for (const userId of users.slice(0, 3)) {
      const tab = await connect(userId);
      await subscribe(tab, channel);
      tabs.push(tab);
    }
    const observer = tabs[0]!;
    await observer.next((f) => f.type === 'join' && f.userId === 'm3');
    const fourth = await connect('m4');
    const cut = await subscribe(fourth, channel);
    expect(cut.total).toBe(4);
    expect(cut.members).toHaveLength(LIMIT);
    const reset = await observer.next((f) => f.type === 'presence' && f.ref === undefined && f.total === 4);
    // Above the limit: LIMIT of the four picked at random (as with Redis), sorted.
    const picked = (reset.members as Array<{ userId: string; connections: number }>).map((m) => m.userId);
    expect(picked).toHaveLength(LIMIT);
    expect(picked).toEqual([...picked].sort());
    expect(picked.every((u) => users.includes(u))).toBe(true);
    await fourth.close();
    const back = await observer.next((f) => f.type === 'presence' && f.ref === undefined && f.total === 3, 10_000);
    expect((back.members as Array<{ userId: string }>).map((m) => m.userId)).toEqual(['m1', 'm2', 'm3']);
    expect(events(observer, channel)).toEqual(['join m2', 'join m3']);
  });
});
