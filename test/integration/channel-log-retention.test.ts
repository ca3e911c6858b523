// Message retention over real DynamoDB (dynalite, which runs no TTL deletion: the test deletes expired items itself, as DynamoDB's TTL would, some and not all): history returns what remains, skips the expired range without writing tombstones there, says it was truncated, and still closes real holes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteItemCommand, GetItemCommand, QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoChannelStore, DynamoRoomStore } from '../../functions/adapters/dynamo-stores.js';
import { listChannelMessages } from '../../functions/domain/channel-history.js';
import { append, GAP_EVENT, GAP_HEAL_AFTER_MS, read } from '../../functions/domain/channel-log.js';
import { DomainError } from '../../functions/domain/errors.js';
import { listMessages, sendMessage } from '../../functions/domain/messages.js';
import type { ChannelStore, LogEntry, Publisher } from '../../functions/domain/ports.js';
import { createRoom } from '../../functions/domain/rooms.js';
import { retentionFromEnv } from '../../functions/lib/retention.js';
import type { LocalDynamo } from '../../local/dynamo.js';
import { startStores, type Stores } from '../helpers/stores.js';
import { fromAttributes, toAttributes } from '../../shared/dynamo-items.js';

const DAY = 24 * 60 * 60 * 1000;
const RETENTION = DAY;

let dynamo: LocalDynamo;
let db: DynamoDBClient;
let rooms: DynamoRoomStore;
let channels: DynamoChannelStore;

let stores: Stores;
beforeAll(async () => {
  stores = await startStores('retention');
  ({ dynamo, db, rooms, channels } = stores);
});
afterAll(() => stores?.stop());

const publisher: Publisher = { publish: async () => {} };
const at = (ms: number) => () => ms;
/** Appends as a writer whose clock says `ts`. */
const appendAt = (channel: string, ts: number, n: number) => append({ channels, publisher, retentionMs: RETENTION, now: at(ts) }, channel, { event: 'note', data: { n } });

/** Every item of the channel as stored (expired ones included). */
async function stored(channel: string): Promise<LogEntry[]> {
  const out = await db.send(new QueryCommand({ TableName: dynamo.tables.messages, KeyConditionExpression: 'channel = :c', ExpressionAttributeValues: toAttributes({ ':c': channel }), ConsistentRead: true }));
  return (out.Items ?? []).map((i) => fromAttributes<LogEntry>(i));
}

/** What DynamoDB's TTL does, late and in no order: deletes expired items, here all but `keep`. */
async function expire(channel: string, keep: number[] = []): Promise<number[]> {
  const deleted: number[] = [];
  for (const item of await stored(channel)) {
    if (item.expiresAt !== undefined && item.expiresAt * 1000 <= Date.now() && !keep.includes(item.seq)) {
      await db.send(new DeleteItemCommand({ TableName: dynamo.tables.messages, Key: toAttributes({ channel, seq: item.seq }) }));
      deleted.push(item.seq);
    }
  }
  return deleted;
}

describe('retention', () => {
  it('stamps expiresAt on entries and tombstones, never on the counter', async () => {
    const channel = `user:stamp-${Date.now()}`;
    const now = Date.now();
    const { entry } = await appendAt(channel, now, 1);
    expect(entry.expiresAt).toBe(Math.ceil((now + RETENTION) / 1000));
    await channels.reserveSeq(channel, now - 60_000); // seq 2, abandoned
    await appendAt(channel, now - 30_000, 3);
    const page = await read({ channels, retentionMs: RETENTION }, channel, 0, 10);
    const tombstone = page.entries.find((e) => e.event === GAP_EVENT)!;
    expect(tombstone).toMatchObject({ seq: 2 });
    expect(tombstone.expiresAt).toBeGreaterThanOrEqual(Math.ceil((now + RETENTION) / 1000));
    const { Item } = await db.send(new GetItemCommand({ TableName: dynamo.tables.messages, Key: toAttributes({ channel: `#head#${channel}`, seq: 0 }), ConsistentRead: true }));
    expect(fromAttributes<Record<string, unknown>>(Item!)).not.toHaveProperty('expiresAt');
    // Without retention nothing expires.
    expect((await append({ channels, publisher }, channel, { event: 'note', data: 4 })).entry).not.toHaveProperty('expiresAt');
  });

  it('history after expiry: returns what remains, skips the expired range without tombstones, says it was truncated', async () => {
    const now = Date.now();
    const old = now - 2 * DAY;
    const room = await createRoom({ rooms }, 'alice', 'retained');
    const channel = `room:${room.roomId}`;
    // seqs 1-3 and 5 written two days ago, 4 reserved then and never written (a hole among expired entries);
    for (const n of [1, 2, 3]) await appendAt(channel, old + n, n);
    await channels.reserveSeq(channel, old + 4);
    await appendAt(channel, old + 5, 5);
    // 6 and 7 a minute ago, 8 abandoned since, 9 half a minute ago.
    await appendAt(channel, now - 60_000, 6);
    await appendAt(channel, now - 59_000, 7);
    await channels.reserveSeq(channel, now - 58_000);
    await appendAt(channel, now - 30_000, 9);
    // TTL has deleted 1, 2 and 5, not yet 3.
    expect(await expire(channel, [3])).toEqual([1, 2, 5]);

    const page = await read({ channels, retentionMs: RETENTION }, channel, 0, 50);
    expect(page.entries.map((e) => [e.seq, e.event])).toEqual([
      [6, 'note'],
      [7, 'note'],
      [8, GAP_EVENT], // a real hole among live entries is still closed
      [9, 'note'],
    ]);
    expect(page).toMatchObject({ firstSeq: 6, nextAfterSeq: null });
    expect(page).not.toHaveProperty('retryAfterMs');
    // No seq of the expired range was filled: 1, 2, 4, 5 hold nothing, 3 is still the expired entry.
    expect((await stored(channel)).map((e) => [e.seq, e.event])).toEqual([
      [3, 'note'],
      [6, 'note'],
      [7, 'note'],
      [8, GAP_EVENT],
      [9, 'note'],
    ]);

    // The HTTP shapes: the channel route and the room alias both say so.
    const deps = { rooms, channels, publisher, retentionMs: RETENTION };
    const history = await listChannelMessages(deps, { channel, userId: 'alice', afterSeq: 0, limit: 50 });
    expect(history).toMatchObject({ truncated: true, firstSeq: 6, nextAfterSeq: null });
    expect(history.messages.map((m) => m.seq)).toEqual([6, 7, 8, 9]);
    expect(await listMessages(deps, { roomId: room.roomId, userId: 'alice', afterSeq: 0, limit: 50 })).toMatchObject({ truncated: true, firstSeq: 6 });
    // Paging through the expired range: a page that skipped everything moves the cursor past it.
    // (limit 1: the query's one item is the expired seq 3, so the first page is empty but moves on).
    const first = await read({ channels, retentionMs: RETENTION }, channel, 0, 1);
    expect(first).toEqual({ entries: [], firstSeq: 4, nextAfterSeq: 3 });
    expect(await read({ channels, retentionMs: RETENTION }, channel, first.nextAfterSeq!, 1)).toMatchObject({ firstSeq: 6, entries: [{ seq: 6 }], nextAfterSeq: 6 });
    // A client already past the expired range sees no truncation.
    expect(await read({ channels, retentionMs: RETENTION }, channel, 6, 50)).toEqual({ entries: expect.any(Array), nextAfterSeq: null });
  });

  it('an old channel: a hole right after the client\'s cursor is dated by the entry at the cursor and closed, not skipped', async () => {
    const now = Date.now();
    const channel = `user:old-${now}`;
    await channels.reserveSeq(channel, now - 3 * DAY); // seq 1: the counter is three days old
    await appendAt(channel, now - 60_000, 2);
    await channels.reserveSeq(channel, now - 50_000); // seq 3, abandoned
    await appendAt(channel, now - 30_000, 4);
    const fromCursor = await read({ channels, retentionMs: RETENTION }, channel, 2, 10);
    expect(fromCursor).toEqual({ entries: [expect.objectContaining({ seq: 3, event: GAP_EVENT }), expect.objectContaining({ seq: 4 })], nextAfterSeq: null });
    // From the start, seq 1 cannot be told from an expired entry (the counter is older than the retention): skipped, not filled.
    expect(await read({ channels, retentionMs: RETENTION }, channel, 0, 10)).toMatchObject({ firstSeq: 2, entries: [{ seq: 2 }, { seq: 3 }, { seq: 4 }] });
    expect(await channels.getEntry(channel, 1)).toBeNull();
  });

  it('a young hole right after an expired range still stops the page (its writer may be at work)', async () => {
    const now = Date.now();
    const channel = `user:young-${now}`;
    await appendAt(channel, now - 2 * DAY, 1);
    await channels.reserveSeq(channel, now); // seq 2, being written
    await appendAt(channel, now, 3);
    await expire(channel);
    const page = await read({ channels, retentionMs: RETENTION }, channel, 0, 10);
    expect(page).toMatchObject({ entries: [], nextAfterSeq: 0, retryAfterMs: expect.any(Number) });
    // Past the bound, seq 2 is skipped with 1 (nothing can date it), never filled.
    const later = await read({ channels, retentionMs: RETENTION, now: () => now + GAP_HEAL_AFTER_MS + 1_000 }, channel, 0, 10);
    expect(later).toMatchObject({ firstSeq: 3, entries: [{ seq: 3 }], nextAfterSeq: null });
    expect(await channels.getEntry(channel, 2)).toBeNull();
  });

  it('an idempotency claim is never used to fill or replay a seq that may have expired', async () => {
    const room = await createRoom({ rooms }, 'alice', 'claims');
    const input = { roomId: room.roomId, userId: 'alice', text: 'hi', clientMessageId: 'c-old' };
    // The first attempt recorded its seq on the claim and died before writing.
    const dead: ChannelStore = Object.assign(Object.create(channels) as ChannelStore, { putEntry: async () => Promise.reject(new Error('function timed out')) });
    await expect(sendMessage({ rooms, channels: dead, publisher, retentionMs: RETENTION }, input)).rejects.toBeInstanceOf(DomainError);
    // A retry a retention period later (the claim not yet deleted) must not tombstone that seq.
    const err = await sendMessage({ rooms, channels, publisher, retentionMs: RETENTION, now: () => Date.now() + RETENTION }, input).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'conflict', message: expect.stringMatching(/older than the message retention period/) });
    expect(await channels.getEntry(`room:${room.roomId}`, 1)).toBeNull();

    // A claim past its own expiry (24 h) counts as free, though DynamoDB has not deleted it yet.
    const yesterday = new DynamoChannelStore(db, dynamo.tables, () => Date.now() - 25 * 60 * 60 * 1000);
    expect(await yesterday.claim('user:claims', 'k', { entryId: 'e-old', fingerprint: 'f', claimedAt: 1 })).toBeNull();
    expect(await channels.claim('user:claims', 'k', { entryId: 'e-new', fingerprint: 'f', claimedAt: 2 })).toBeNull();
    expect(await channels.claim('user:claims', 'k', { entryId: 'e-3', fingerprint: 'f', claimedAt: 3 })).toMatchObject({ entryId: 'e-new' });
  });

  it('reads MESSAGE_RETENTION_DAYS: unset is off, a positive whole number of days is on, anything else refuses to start', () => {
    expect(retentionFromEnv({})).toEqual({});
    expect(retentionFromEnv({ MESSAGE_RETENTION_DAYS: '' })).toEqual({});
    expect(retentionFromEnv({ MESSAGE_RETENTION_DAYS: '30' })).toEqual({ retentionMs: 30 * DAY });
    for (const bad of ['0', '-1', '1.5', 'week']) expect(() => retentionFromEnv({ MESSAGE_RETENTION_DAYS: bad })).toThrow(/MESSAGE_RETENTION_DAYS/);
  });
});
