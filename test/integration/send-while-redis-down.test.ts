/**
 * A send while Redis is gone: the message is stored and the answer
 * (`published: false`) comes after at most about PUBLISH_TIMEOUT_MS of publish
 * wait — and only the first send that finds Redis gone waits that long; the
 * others are answered in their DynamoDB time (functions/lib/publisher.ts,
 * broker/fail-fast.ts). Once Redis is back, the next sends publish again.
 * On the local stack (the real handlers behind the API Gateway stand-in), with
 * the send rate limiter on (it talks to the same Redis), against a Redis that
 * is SIGKILLed (connections refused), SIGSTOPped (black-holed: connections
 * stay open and nothing answers) and restarted; and the Upstash publisher
 * against a REST endpoint that stops answering.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublisherUnavailableError } from '../../broker/fail-fast.js';
import { PUBLISH_TIMEOUT_MS } from '../../functions/domain/channel-log.js';
import { UpstashPublisher } from '../../functions/adapters/upstash-publisher.js';
import { closeConnections } from '../../functions/host.js';
import { enforceSendRate } from '../../functions/lib/send-rate.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { PUBLISHED_HEADER } from '../../protocol/http.js';
import { eventually } from '../helpers/redis.js';
import { startSilenceableProxy } from '../helpers/sdk-harness.js';
import { startUpstashRestServer } from '../helpers/upstash-rest-server.js';

/** Generous for a loaded 2-core machine; the design bound is PUBLISH_TIMEOUT_MS plus DynamoDB time. */
const ANSWER_BOUND_MS = 3000;
/** Sends made during each outage. Before fail-fast each cost the full publish timeout. */
const OUTAGE_SENDS = 10;

let stack: LocalStack;
/** The redis-server process while it is SIGSTOPped. */
let stoppedPid: number | null = null;
let roomId: string;
let token: string;
let subscriber: Redis;
/** Seqs the subscriber got on the room channel. */
const delivered = new Set<number>();

beforeAll(async () => {
  // The limiter on (as deployed), with room enough never to refuse these sends.
  process.env.SEND_RATE_PER_SECOND = '1000';
  process.env.SEND_RATE_BURST = '1000';
  stack = await startLocalStack({ buildRelay: false, relays: 0, keyFile: '.local/test-keys.json' });
  token = await stack.issuer.mint('alice');
  const res = await fetch(`${stack.apiUrl}/rooms`, { method: 'POST', headers: headers(), body: JSON.stringify({ name: 'outage' }) });
  roomId = ((await res.json()) as { roomId: string }).roomId;
  subscriber = new Redis(stack.redisUrl!, { retryStrategy: () => 100 });
  subscriber.on('error', () => {});
  subscriber.on('message', (_channel: string, payload: string) => delivered.add((JSON.parse(payload) as { seq: number }).seq));
  await subscriber.subscribe(`room:${roomId}`);
});

afterAll(async () => {
  if (stoppedPid) process.kill(stoppedPid, 'SIGCONT'); // never leave a stopped server behind
  subscriber?.disconnect();
  await stack?.stop();
  delete process.env.SEND_RATE_PER_SECOND;
  delete process.env.SEND_RATE_BURST;
});

const headers = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

interface Sent {
  status: number;
  seq: number;
  published: string | null;
  ms: number;
}

let counter = 0;
async function send(): Promise<Sent> {
  const started = Date.now();
  const res = await fetch(`${stack.apiUrl}/rooms/${roomId}/messages`, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({ text: `m${++counter}`, clientMessageId: `c${counter}` }),
  });
  const body = (await res.json()) as { seq: number };
  return { status: res.status, seq: body.seq, published: res.headers.get(PUBLISHED_HEADER), ms: Date.now() - started };
}

/** OUTAGE_SENDS sends one after the other (as the SDK's send queue makes them), each checked against the bound. */
async function sendThroughOutage(): Promise<{ sends: Sent[]; totalMs: number }> {
  const sends: Sent[] = [];
  for (let i = 0; i < OUTAGE_SENDS; i++) sends.push(await send());
  expect(sends.map((s) => s.status)).toEqual(sends.map(() => 201)); // stored
  expect(sends.map((s) => s.published)).toEqual(sends.map(() => 'false'));
  for (const s of sends) expect(s.ms, `send of seq ${s.seq} answered after ${s.ms} ms`).toBeLessThan(ANSWER_BOUND_MS);
  return { sends, totalMs: sends.reduce((sum, s) => sum + s.ms, 0) };
}

/** Sends until one is published again (within `withinMs`), and the subscriber gets it. */
async function publishesAgain(withinMs: number): Promise<Sent> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const s = await send();
    expect(s.status).toBe(201);
    expect(s.ms).toBeLessThan(ANSWER_BOUND_MS);
    // Published, and seen: this test's own subscriber may resubscribe after the function's first publish (pub/sub
    // keeps nothing for a late subscriber), so a published send it never gets is followed by another.
    if (s.published === 'true' && (await arrives(s.seq, 1000))) return s;
    if (Date.now() > deadline) throw new Error(`sends still not published ${withinMs} ms after Redis was back`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether the subscriber gets `seq` within `ms`. */
async function arrives(seq: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!delivered.has(seq)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

async function serverPid(url: string): Promise<number> {
  const redis = new Redis(url);
  try {
    return Number(/process_id:(\d+)/.exec(await redis.info('server'))![1]);
  } finally {
    redis.disconnect();
  }
}

describe('sends while Redis is down', () => {
  it('answers every send within the bound while Redis is SIGKILLed; only the first waits for the publish', async () => {
    const before = await send();
    expect(before.published).toBe('true');
    await stack.redis!.kill();
    try {
      const { totalMs } = await sendThroughOutage();
      // Every send paying the publish timeout would take OUTAGE_SENDS × PUBLISH_TIMEOUT_MS.
      expect(totalMs).toBeLessThan((OUTAGE_SENDS / 2) * PUBLISH_TIMEOUT_MS);
    } finally {
      await stack.redis!.restart();
    }
    await publishesAgain(5000);
  }, 60_000);

  it('publishes again as soon as a restarted Redis is back: the subscriber gets the next sends', async () => {
    await stack.redis!.kill();
    expect((await send()).published).toBe('false');
    await stack.redis!.restart();
    const restartedAt = Date.now();
    const first = await publishesAgain(5000);
    // The function's connection retries at least every REDIS_RECONNECT_MAX_MS (1 s).
    expect(Date.now() - restartedAt).toBeLessThan(ANSWER_BOUND_MS);
    const next = await send();
    expect(next.published).toBe('true');
    await eventually(() => delivered.has(next.seq), 5000, 'the next send at the subscriber');
    expect(next.seq).toBe(first.seq + 1);
  }, 60_000);

  it('does not take a dropped connection that reconnects at once for an outage', async () => {
    expect((await send()).published).toBe('true');
    const admin = new Redis(stack.redisUrl!);
    try {
      // Drops the publisher's (and the limiter's) connection, as an idle timeout or a frozen container's NAT would.
      expect(Number(await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes'))).toBeGreaterThan(0);
    } finally {
      admin.disconnect();
    }
    const after = await send();
    expect(after.published).toBe('true');
    await eventually(() => delivered.has(after.seq), 5000, 'the send after the drop at the subscriber');
  }, 30_000);

  it('answers every send within the bound while Redis is black-holed (SIGSTOP), and publishes again after SIGCONT', async () => {
    expect((await send()).published).toBe('true');
    stoppedPid = await serverPid(stack.redisUrl!);
    process.kill(stoppedPid, 'SIGSTOP');
    try {
      const { sends, totalMs } = await sendThroughOutage();
      expect(totalMs).toBeLessThan((OUTAGE_SENDS / 2) * PUBLISH_TIMEOUT_MS);
      // The first send waited for the publish to time out (nothing refuses the connection).
      expect(sends[0]!.ms).toBeGreaterThanOrEqual(PUBLISH_TIMEOUT_MS - 50);
    } finally {
      process.kill(stoppedPid, 'SIGCONT');
      stoppedPid = null;
    }
    await publishesAgain(5000);
  }, 60_000);

  it('lets sends through at once, not after its timeout, once the rate limiter found Redis black-holed', async () => {
    expect(await enforceSendRate('limiter-probe')).toBeUndefined(); // connected and allowed
    stoppedPid = await serverPid(stack.redisUrl!);
    process.kill(stoppedPid, 'SIGSTOP');
    try {
      const waits: number[] = [];
      for (let i = 0; i < OUTAGE_SENDS; i++) {
        const started = Date.now();
        expect(await enforceSendRate('limiter-probe')).toBeUndefined(); // fail-open
        waits.push(Date.now() - started);
      }
      // Waiting out the limiter's 250 ms every time would take OUTAGE_SENDS × 250 ms.
      expect(waits.reduce((a, b) => a + b, 0)).toBeLessThan((OUTAGE_SENDS / 2) * 250);
    } finally {
      process.kill(stoppedPid, 'SIGCONT');
      stoppedPid = null;
    }
    // Back: it limits again (a user over the burst is refused).
    await eventually(async () => (await enforceSendRate('limiter-probe', { ...process.env, SEND_RATE_PER_SECOND: '1', SEND_RATE_BURST: '1' })) !== undefined, 5000, 'the limiter to refuse again');
  }, 30_000);

  it('answers within the bound from a container started during the outage', async () => {
    await closeConnections(); // a fresh container: no publisher connection yet
    await stack.redis!.kill();
    try {
      const { totalMs } = await sendThroughOutage();
      expect(totalMs).toBeLessThan((OUTAGE_SENDS / 2) * PUBLISH_TIMEOUT_MS);
    } finally {
      await stack.redis!.restart();
    }
    await publishesAgain(5000);
  }, 60_000);
});

describe('the Upstash publisher while its REST endpoint does not answer', () => {
  it('fails the first publish after timeoutMs, refuses the next at once, and probes until the endpoint is back', async () => {
    const upstash = await startUpstashRestServer({ redisUrl: stack.redisUrl! });
    const proxy = await startSilenceableProxy(Number(new URL(upstash.url).port));
    const channel = `test:upstash-down:${process.pid}`;
    const got: string[] = [];
    const observer = new Redis(stack.redisUrl!);
    observer.on('message', (_c: string, payload: string) => got.push(payload));
    await observer.subscribe(channel);
    const publisher = new UpstashPublisher({ url: `http://127.0.0.1:${proxy.port}`, token: upstash.token, timeoutMs: 1000, probeAfterMs: 1000 });
    const timed = async (payload: string) => {
      const started = Date.now();
      const error = await publisher.publish(channel, payload).then(
        () => null,
        (e: unknown) => e,
      );
      return { error, ms: Date.now() - started };
    };
    try {
      expect((await timed('before')).error).toBeNull();
      proxy.silence();
      const first = await timed('lost-1');
      expect(first.error).toBeInstanceOf(Error);
      expect(first.ms).toBeGreaterThanOrEqual(900);
      expect(first.ms).toBeLessThan(ANSWER_BOUND_MS);
      const next = await timed('lost-2');
      expect(next.error).toBeInstanceOf(PublisherUnavailableError);
      expect(next.ms).toBeLessThan(100);

      proxy.resume();
      await new Promise((r) => setTimeout(r, 1000)); // the next publish is the probe
      const back = await timed('after');
      expect(back).toMatchObject({ error: null });
      await eventually(() => got.includes('after'), 5000, 'the publish after the endpoint was back');
      expect(got).toEqual(['before', 'after']);
    } finally {
      observer.disconnect();
      await proxy.close();
      await upstash.close();
    }
  }, 30_000);
});
