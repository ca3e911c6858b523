/**
 * Faults on the local stack: a Redis crash and restart, a relay draining on
 * SIGTERM, a relay killed outright. Stored messages are never lost: what
 * live delivery misses, the history API returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '../../protocol/index.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { apiClient } from '../helpers/api.js';
import { eventually, numsub } from '../helpers/redis.js';
import { TestClient } from '../helpers/ws-client.js';

let stack: LocalStack;
let roomId: string;
let channel: string;
const token = (sub: string) => stack.issuer.mint(sub);
const alice = async () => apiClient(stack.apiUrl, await token('alice'));

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json', relayEnv: { DRAIN_TIMEOUT_MS: '3000' } });
  const api = await alice();
  roomId = (await api.post('/rooms', { name: 'faults' })).body.roomId;
  await api.post(`/rooms/${roomId}/members`, { userId: 'bob' });
  await api.post(`/rooms/${roomId}/members`, { userId: 'carol' });
  channel = `room:${roomId}`;
});
afterAll(() => stack?.stop());

describe('faults', () => {
  it('resubscribes after a Redis crash; messages sent during the outage are stored and come back from history', async () => {
    const bob = await TestClient.connect(stack.relayUrls[1]!, await token('bob'));
    await bob.subscribe(channel);
    const carol = await TestClient.connect(stack.relayUrls[1]!, await token('carol'));
    await carol.subscribe(channel);
    const api = await alice();
    expect((await api.post(`/rooms/${roomId}/messages`, { text: 'before' })).status).toBe(201);
    await bob.waitForMessages(channel, 1);
    const before = bob.messages(channel).at(-1)!.seq;

    await stack.redis!.kill();
    // Still healthy (an outage must not make ECS replace every relay), but it says Redis is down.
    const health = async () => {
      const res = await fetch(`${stack.relays[1]!.url}/healthz`);
      return { status: res.status, body: (await res.json()) as { broker: string } };
    };
    await eventually(async () => (await health()).body.broker === 'down', 5000, 'healthz to report Redis down');
    expect((await health()).status).toBe(200);
    const during = await api.post(`/rooms/${roomId}/messages`, { text: 'during the outage' });
    expect(during.status).toBe(201); // persisted; only the live publish was lost
    expect(during.body.seq).toBe(before + 1);
    // Carol is removed while the revoke cannot be published.
    expect((await api.delete(`/rooms/${roomId}/members/carol`)).status).toBe(204);
    await stack.redis!.restart();

    // Back from the outage, the relay re-checks every subscription and asks the rest to backfill.
    expect(await carol.next((f) => f.type === 'unsubscribed', 15_000)).toMatchObject({ channel, reason: 'access_revoked' });
    expect(await bob.next((f) => f.type === 'resync', 15_000)).toEqual({ type: 'resync', channel });
    // The restarted Redis had no presence entries; the relay wrote its own again on recovery
    // (not 20 s later at its next refresh).
    await eventually(async () => {
      const reply = await bob.request({ type: 'presence', channel });
      return JSON.stringify(reply.members) === JSON.stringify([{ userId: 'bob', connections: 1 }]);
    }, 3000, 'presence restored after the Redis restart');

    // The relay resubscribes on its own; keep sending until live delivery is back.
    await eventually(async () => {
      await api.post(`/rooms/${roomId}/messages`, { text: 'after' });
      await new Promise((r) => setTimeout(r, 100));
      return bob.messages(channel).some((m) => (m.data as { text: string }).text === 'after');
    }, 15_000, 'live delivery after the Redis restart');
    expect((await health()).body.broker).toBe('up');
    // Counted as one outage, however many times ioredis retried meanwhile (what the alarm reads).
    const metrics = await (await fetch(`${stack.relays[1]!.url}/metrics`)).text();
    const count = (name: string) => Number(metrics.match(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm'))?.[1] ?? 0);
    expect(count('relay_broker_lifecycle_total{event="down"}')).toBe(1);
    expect(count('relay_broker_lifecycle_total{event="up"}')).toBe(1);
    expect(count('relay_broker_lifecycle_total{event="resubscribed"}')).toBe(1);
    expect(count('relay_broker_events_total{event="reconnecting"}')).toBeGreaterThan(1);

    // The client sees a seq gap and backfills it from history.
    const live = bob.messages(channel).map((m) => m.seq);
    const missing = (await api.get(`/rooms/${roomId}/messages?afterSeq=${before}&limit=1`)).body.messages;
    expect(live).not.toContain(before + 1);
    expect(missing).toEqual([during.body]);
    expect(carol.messages(channel).some((m) => (m.data as { text: string }).text === 'after')).toBe(false);
    await bob.close();
    await carol.close();
  });

  it('drains on SIGTERM: clients get 1012, the process exits 0, and a reconnect elsewhere catches up', async () => {
    const api = await alice();
    const bob = await TestClient.connect(stack.relayUrls[0]!, await token('bob'));
    await bob.subscribe(channel);
    await api.post(`/rooms/${roomId}/messages`, { text: 'seen live' });
    await bob.waitForMessages(channel, 1);
    const lastSeen = bob.messages(channel).at(-1)!.seq;

    const started = Date.now();
    const [exitCode, closed] = await Promise.all([stack.relays[0]!.stop('SIGTERM'), bob.closed]);
    expect(closed.code).toBe(CloseCode.RelayRestarting);
    expect(exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);

    const missed = await api.post(`/rooms/${roomId}/messages`, { text: 'while reconnecting' });
    const again = await TestClient.connect(stack.relayUrls[1]!, await token('bob'));
    await again.subscribe(channel);
    const history = (await apiClient(stack.apiUrl, await token('bob')).get(`/rooms/${roomId}/messages?afterSeq=${lastSeen}`)).body;
    expect(history.messages.map((m: { id: string }) => m.id)).toEqual([missed.body.id]);
    await again.close();
  });

  it('releases a killed relay\'s Redis subscriptions', async () => {
    const carol = await TestClient.connect(stack.relayUrls[1]!, await token('bob'));
    await carol.subscribe(channel);
    expect(await numsub(stack.redisUrl!, channel)).toBe(1);
    await stack.relays[1]!.stop('SIGKILL');
    expect((await carol.closed).code).toBe(1006);
    await eventually(async () => (await numsub(stack.redisUrl!, channel)) === 0, 5000, 'Redis to drop the dead relay');
  });
});
