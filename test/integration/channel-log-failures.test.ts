// The channel log's review fixes over real DynamoDB (dynalite) and real sockets: SDK timeouts and throttling answered 503, a lost response at each step settled without a duplicate, replays published again, young holes reported with retryAfterMs, payloads a relay would drop refused before anything is written.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../shared/dynamo-client.js';
import { DynamoChannelStore, DynamoRoomStore } from '../../functions/adapters/dynamo-stores.js';
import { append, GAP_EVENT, GAP_HEAL_AFTER_MS, MAX_ENTRY_BYTES, read, WRITE_BUDGET_MS } from '../../functions/domain/channel-log.js';
import { sendMessage } from '../../functions/domain/messages.js';
import type { ChannelStore, Publisher } from '../../functions/domain/ports.js';
import { createRoom } from '../../functions/domain/rooms.js';
import { httpHandler, isUnavailableError, type HttpEvent } from '../../functions/lib/http.js';
import { startDynamo, type LocalDynamo } from '../../local/dynamo.js';
import { decodeEnvelope, ENVELOPE_SHAPE, MAX_ENVELOPE_BYTES } from '../../protocol/index.js';
import { toAttributes } from '../../shared/dynamo-items.js';
import { domainError, faulty } from '../helpers/stores.js';

let dynamo: LocalDynamo;
let db: DynamoDBClient;
let rooms: DynamoRoomStore;
let channels: DynamoChannelStore;
/** Accepts connections and never answers: every request to it times out for real. */
let silent: Server;
/** Answers every request as DynamoDB does when it sheds load. */
let throttling: Server;
const endpointOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

beforeAll(async () => {
  dynamo = await startDynamo({ prefix: 'logfail' });
  db = createDynamoClient({ endpoint: dynamo.endpoint });
  rooms = new DynamoRoomStore(db, dynamo.tables);
  channels = new DynamoChannelStore(db, dynamo.tables);
  silent = createServer(() => {});
  throttling = createServer((_req, res) => {
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': 'ProvisionedThroughputExceededException' });
    res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'Rate of requests exceeds the allowed throughput' }));
  });
  await Promise.all([silent, throttling].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
});
afterAll(async () => {
  db?.destroy();
  silent?.closeAllConnections();
  await Promise.all([silent, throttling].map((s) => s && new Promise((r) => s.close(r))));
  await dynamo?.stop();
});

/** A DynamoDB client whose calls time out (200 ms, one attempt) against the silent server. */
const timingOut = () => createDynamoClient({ endpoint: endpointOf(silent), requestTimeoutMs: 200, maxAttempts: 1 });
/** A real SDK TimeoutError, from a real socket. */
async function sdkTimeout(): Promise<Error> {
  const client = timingOut();
  try {
    await client.send(new GetItemCommand({ TableName: 't', Key: toAttributes({ k: 'x' }) }));
    throw new Error('expected a timeout');
  } catch (err) {
    return err as Error;
  } finally {
    client.destroy();
  }
}

const publisher: Publisher = { publish: async () => {} };
const later = (ms: number) => () => Date.now() + ms;

const faultyChannels = (overrides: Partial<ChannelStore>) => faulty(channels, overrides);


const event = { routeKey: 'GET /test', requestContext: { requestId: 'r-1', authorizer: { jwt: { claims: { sub: 'alice' }, scopes: [] } } } } as unknown as HttpEvent;

describe('SDK timeouts and throttling over HTTP', () => {
  it('answers 503 unavailable (not 500) for a real timeout and a real throttling error', async () => {
    const throttled = createDynamoClient({ endpoint: endpointOf(throttling), maxAttempts: 1 });
    const cases = [timingOut(), throttled];
    try {
      for (const client of cases) {
        const handler = httpHandler(async () => {
          await client.send(new GetItemCommand({ TableName: 't', Key: toAttributes({ k: 'x' }) }));
          return { statusCode: 200 };
        });
        const res = await handler(event);
        expect(res.statusCode).toBe(503);
        expect(JSON.parse(res.body as string)).toMatchObject({ error: { code: 'unavailable' } });
      }
    } finally {
      for (const c of cases) c.destroy();
    }
    // A bug stays a 500.
    expect((await httpHandler(async () => Promise.reject(new TypeError('x is undefined')))(event)).statusCode).toBe(500);
    expect(isUnavailableError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
  });

  it('a put that landed, then a lost answer and a re-read that times out: 503 "unknown outcome", and a retry with the key stores nothing twice', async () => {
    const room = await createRoom({ rooms }, 'alice', 'lost');
    const timeout = await sdkTimeout();
    expect(timeout.name).toBe('TimeoutError');
    const lost = faultyChannels({
      // The put lands; the SDK's retry of it then fails its condition (false), as after a lost response.
      putEntry: async (entry) => (await channels.putEntry(entry)) && channels.putEntry(entry),
      getEntry: async () => Promise.reject(timeout),
    });
    const input = { roomId: room.roomId, userId: 'alice', text: 'once', clientMessageId: 'c-lost' };
    const err = await domainError(sendMessage({ rooms, channels: lost, publisher }, input));
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/unknown outcome; retry with the same clientMessageId/);
    // It was stored; the retry replays it.
    const retry = await sendMessage({ rooms, channels, publisher }, input);
    expect(retry).toMatchObject({ created: false, published: true, message: { seq: 1, text: 'once' } });
    expect((await channels.head(`room:${room.roomId}`)).lastSeq).toBe(1);
  });
});

describe('the request deadline', () => {
  it('stores nothing when the write could not finish before the answer is due, and a retry with the key stores it once', async () => {
    const room = await createRoom({ rooms }, 'alice', 'deadline');
    const input = { roomId: room.roomId, userId: 'alice', text: 'late', clientMessageId: 'c-late' };
    // Reserving the seq took so long that the answer is due in less than the write budget.
    const late = await domainError(sendMessage({ rooms, channels, publisher, deadline: Date.now() + WRITE_BUDGET_MS - 1_000 }, input));
    expect(late.code).toBe('unavailable');
    expect(late.message).toContain('was not stored');
    // Nothing stored: its seq holds a tombstone, so nobody waits on it.
    expect((await read({ channels }, `room:${room.roomId}`, 0, 10)).entries.map((e) => e.event)).toEqual([GAP_EVENT]);
    // The refused attempt tombstoned its own seq: an immediate retry with the key stores it, once.
    const retry = await sendMessage({ rooms, channels, publisher }, input);
    expect(retry.created).toBe(true);
    const entries = (await read({ channels }, `room:${room.roomId}`, 0, 10)).entries;
    expect(entries.map((e) => e.event)).toEqual([GAP_EVENT, 'message.created']);
    expect(entries[1]!.id).toBe(retry.message.id);
  });

  it('a publish never waits past the deadline: the stored message is answered in time, published:false', async () => {
    const room = await createRoom({ rooms }, 'alice', 'deadline-publish');
    const hanging: Publisher = { publish: () => new Promise(() => {}) };
    const startedAt = Date.now();
    // The publish timeout alone would wait a minute: the deadline (2 s away) cuts it short.
    const sent = await sendMessage(
      { rooms, channels, publisher: hanging, publishTimeoutMs: 60_000, writeBudgetMs: 100, deadline: startedAt + 2_000 },
      { roomId: room.roomId, userId: 'alice', text: 'x' },
    );
    expect(sent).toMatchObject({ created: true, published: false });
    expect(Date.now() - startedAt).toBeLessThan(2_000);
  });
});

describe('idempotent retries', () => {
  it('a replay publishes the stored entry again when the first attempt did not publish', async () => {
    const room = await createRoom({ rooms }, 'alice', 'replay');
    const payloads: string[] = [];
    const input = { roomId: room.roomId, userId: 'alice', text: 'hi', clientMessageId: 'c-pub' };
    const first = await sendMessage({ rooms, channels, publisher: { publish: async () => Promise.reject(new Error('redis down')) } }, input);
    expect(first).toMatchObject({ created: true, published: false });
    const retry = await sendMessage({ rooms, channels, publisher: { publish: async (_c, p) => void payloads.push(p) } }, input);
    expect(retry).toMatchObject({ created: false, published: true, message: first.message });
    expect(payloads.map(decodeEnvelope)).toEqual([expect.objectContaining({ kind: 'message', seq: 1, id: first.message.id, data: first.message })]);
  });

  it('a takeover whose response was lost (the SDK retry fails its condition) still holds the claim', async () => {
    const channel = 'user:takeover';
    await channels.claim(channel, 'k', { entryId: 'e-1', fingerprint: 'f', claimedAt: 1_000 });
    expect(await channels.takeOverClaim(channel, 'k', 1_000, 2_000, 'attempt-a')).toBe(true);
    // The SDK's retry of the same update: its condition (claimedAt = 1000) fails against our own write.
    expect(await channels.takeOverClaim(channel, 'k', 1_000, 2_000, 'attempt-a')).toBe(true);
    // Another taker that read the same claim and picked the same ms is refused.
    expect(await channels.takeOverClaim(channel, 'k', 1_000, 2_000, 'attempt-b')).toBe(false);

    // End to end: a retry past the lease takes the claim over, its answer is lost, and it still stores the message once.
    const room = await createRoom({ rooms }, 'alice', 'takeover');
    const dead = faultyChannels({ reserveSeq: async () => Promise.reject(new Error('crashed before reserving')) });
    const input = { roomId: room.roomId, userId: 'alice', text: 'hi', clientMessageId: 'c-take' };
    await expect(sendMessage({ rooms, channels: dead, publisher }, input)).rejects.toThrow(/crashed/);
    const lostAnswer = faultyChannels({
      takeOverClaim: async (c, k, e, at, attempt) => (await channels.takeOverClaim(c, k, e, at, attempt)) && channels.takeOverClaim(c, k, e, at, attempt),
    });
    const retry = await sendMessage({ rooms, channels: lostAnswer, publisher, now: later(60_000) }, input);
    expect(retry).toMatchObject({ created: true, message: { seq: 1 } });
    expect((await read({ channels }, `room:${room.roomId}`, 0, 10)).entries.map((e) => e.event)).toEqual(['message.created']);
  });
});

describe('history at a young hole', () => {
  it('says where to continue and when, instead of null', async () => {
    const channel = `user:young-${Date.now()}`;
    await append({ channels, publisher }, channel, { event: 'note', data: 1 });
    await append({ channels, publisher }, channel, { event: 'note', data: 2 });
    await channels.reserveSeq(channel, Date.now()); // seq 3: a writer still at work
    await append({ channels, publisher }, channel, { event: 'note', data: 4 });
    const page = await read({ channels }, channel, 0, 10);
    expect(page.entries.map((e) => e.seq)).toEqual([1, 2]);
    expect(page.nextAfterSeq).toBe(2);
    expect(page.retryAfterMs).toBeGreaterThan(0);
    expect(page.retryAfterMs).toBeLessThanOrEqual(GAP_HEAL_AFTER_MS);
    // After retryAfterMs the same request goes on: seq 3 is a tombstone now.
    const after = await read({ channels, now: later(page.retryAfterMs! + 1) }, channel, page.nextAfterSeq!, 10);
    expect(after).toEqual({ entries: [expect.objectContaining({ seq: 3, event: GAP_EVENT }), expect.objectContaining({ seq: 4 })], nextAfterSeq: null });
  });

  it('keeps the gap bound above the slowest healthy write chain', () => {
    // 2 attempts × (1 s connect + 1.5 s request) per call, and a 10 s function timeout.
    expect(GAP_HEAL_AFTER_MS).toBeGreaterThan(10_000);
  });
});

describe('payloads a relay would drop', () => {
  const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : { d: nested(depth - 1) });

  it('refuses data nested past the envelope bound or larger than MAX_ENTRY_BYTES before taking a seq or a claim', async () => {
    const channel = `user:shape-${Date.now()}`;
    const deep = await domainError(append({ channels, publisher }, channel, { event: 'note', data: nested(ENVELOPE_SHAPE.maxDepth), idempotencyKey: 'k1' }));
    expect(deep.code).toBe('bad_request');
    expect(deep.message).toMatch(/nested deeper than 31 levels/);
    const big = await domainError(append({ channels, publisher }, channel, { event: 'note', data: 'x'.repeat(MAX_ENTRY_BYTES), idempotencyKey: 'k2' }));
    expect(big.code).toBe('payload_too_large');
    expect(MAX_ENTRY_BYTES).toBeLessThan(MAX_ENVELOPE_BYTES);
    // Nothing was reserved, and the keys are still free.
    expect((await channels.head(channel)).lastSeq).toBe(0);
    expect(await channels.claim(channel, 'k1', { entryId: 'e', fingerprint: 'f', claimedAt: 1 })).toBeNull();

    // The deepest data a relay accepts goes through, and its envelope decodes.
    const payloads: string[] = [];
    const ok = await append({ channels, publisher: { publish: async (_c, p) => void payloads.push(p) } }, channel, { event: 'note', data: nested(ENVELOPE_SHAPE.maxDepth - 1) });
    expect(ok).toMatchObject({ created: true, published: true, entry: { seq: 1 } });
    expect(decodeEnvelope(payloads[0]!)).toMatchObject({ seq: 1 });
  });

  it('answers published:false (stored) when the envelope cannot be encoded, instead of failing after the write', async () => {
    const channel = `user:encode-${Date.now()}`;
    const errors: unknown[] = [];
    // A payload whose serialization throws once stored (toJSON runs at publish only after the shape check passed).
    let calls = 0;
    const data = { toJSON: () => (++calls > 1 ? (() => { throw new Error('cannot encode'); })() : 'fine') };
    const result = await append({ channels, publisher, onPublishError: (e) => errors.push(e) }, channel, { event: 'note', data });
    expect(result).toMatchObject({ created: true, published: false });
    expect(errors).toEqual([expect.objectContaining({ message: 'cannot encode' })]);
  });
});
