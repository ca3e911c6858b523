// The channel log over real DynamoDB (dynalite): gap healing after crashes between its steps, idempotent retries that settle them, publish failures that still answer "stored", and per-kind history access.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoChannelStore, DynamoRoomStore } from '../../functions/adapters/dynamo-stores.js';
import { listChannelMessages } from '../../functions/domain/channel-history.js';
import { append, GAP_EVENT, GAP_HEAL_AFTER_MS, read } from '../../functions/domain/channel-log.js';
import { listMessages, sendMessage, type MessageDeps } from '../../functions/domain/messages.js';
import type { ChannelStore, LogEntry, Publisher } from '../../functions/domain/ports.js';
import { addMember, createRoom } from '../../functions/domain/rooms.js';
import { startStores, type Stores, domainError, faulty } from '../helpers/stores.js';

let rooms: DynamoRoomStore;
let channels: DynamoChannelStore;

let stores: Stores;
beforeAll(async () => {
  stores = await startStores('channellog');
  ({ rooms, channels } = stores);
});
afterAll(() => stores?.stop());

const published: string[] = [];
const publisher: Publisher = { publish: async (channel) => void published.push(channel) };
const later = (ms: number) => () => Date.now() + ms;
const PAST_BOUND = GAP_HEAL_AFTER_MS + 1_000;

function deps(overrides: Partial<MessageDeps> = {}): MessageDeps {
  return { rooms, channels, publisher, ...overrides };
}

async function roomWith(owner: string, ...members: string[]): Promise<string> {
  const d = { rooms, publisher };
  const room = await createRoom(d, owner, `room of ${owner}`);
  for (const m of members) await addMember(d, owner, room.roomId, m);
  return room.roomId;
}


const faultyChannels = (overrides: Partial<ChannelStore>) => faulty(channels, overrides);

const isMessage = (e: LogEntry) => e.event !== GAP_EVENT;

describe('gap healing', () => {
  it('a seq reserved by a writer that died stops history until the bound, then reads as a gap', async () => {
    const roomId = await roomWith('alice');
    const channel = `room:${roomId}`;
    expect(await channels.reserveSeq(channel, Date.now())).toBe(1); // a writer that died right after reserving
    const sent = await sendMessage(deps(), { roomId, userId: 'alice', text: 'after the hole' });
    expect(sent.message.seq).toBe(2);

    // Within the bound the writer of seq 1 may still be at work: history never skips it, and says when to ask again.
    const young = await read({ channels }, channel, 0, 10);
    expect(young).toEqual({ entries: [], nextAfterSeq: 0, retryAfterMs: expect.any(Number) });
    expect(young.retryAfterMs).toBeGreaterThan(GAP_HEAL_AFTER_MS - 5_000);
    expect(young.retryAfterMs).toBeLessThanOrEqual(GAP_HEAL_AFTER_MS);
    // The v1 alias keeps null there (a v1 client loops until null) and gains the field.
    expect(await listMessages(deps(), { roomId, userId: 'alice', afterSeq: 0, limit: 10 })).toEqual({ messages: [], nextAfterSeq: null, retryAfterMs: expect.any(Number) });

    // Past the bound the reader fills it with a tombstone, once and for good.
    const page = await read({ channels, now: later(PAST_BOUND) }, channel, 0, 10);
    expect(page.entries.map((e) => [e.seq, e.event])).toEqual([
      [1, GAP_EVENT],
      [2, 'message.created'],
    ]);
    expect(await channels.getEntry(channel, 1)).toMatchObject({ event: GAP_EVENT, data: null });
    // The room alias leaves the tombstone out; the cursor moves past it.
    const alias = await listMessages(deps(), { roomId, userId: 'alice', afterSeq: 0, limit: 1 });
    expect(alias).toEqual({ messages: [], nextAfterSeq: 1 });
    expect((await listMessages(deps(), { roomId, userId: 'alice', afterSeq: 1, limit: 1 })).messages).toEqual([sent.message]);
  });

  it('fills a hole at the end of the log from the counter\'s reservation time', async () => {
    const channel = `user:tail-${Date.now()}`;
    await append({ channels, publisher }, channel, { event: 'note', data: { n: 1 } });
    await channels.reserveSeq(channel, Date.now()); // seq 2, never written
    // Stopped at the young hole: not the end of the log, so the cursor is the last seq returned.
    expect(await read({ channels }, channel, 0, 10)).toMatchObject({ entries: [{ seq: 1 }], nextAfterSeq: 1, retryAfterMs: expect.any(Number) });
    const healed = await read({ channels, now: later(PAST_BOUND) }, channel, 0, 10);
    expect(healed.entries.map((e) => [e.seq, e.event])).toEqual([
      [1, 'note'],
      [2, GAP_EVENT],
    ]);
    // The next append continues after the tombstone.
    expect((await append({ channels, publisher }, channel, { event: 'note', data: { n: 3 } })).entry.seq).toBe(3);
  });

  it('a writer slower than the bound finds a tombstone at its seq and reports "not stored"; a retry stores it', async () => {
    const roomId = await roomWith('alice');
    const channel = `room:${roomId}`;
    // Before the slow writer's put lands, a reader past the bound fills its seq.
    const slow = faultyChannels({
      putEntry: async (entry) => {
        if (isMessage(entry)) await read({ channels, now: later(PAST_BOUND) }, channel, 0, 10);
        return channels.putEntry(entry);
      },
    });
    const err = await domainError(sendMessage(deps({ channels: slow }), { roomId, userId: 'alice', text: 'slow', clientMessageId: 'c-slow' }));
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/not stored/);
    expect(await channels.getEntry(channel, 1)).toMatchObject({ event: GAP_EVENT });
    // The claim points at a tombstone: that attempt stored nothing, so the retry stores it now.
    const retry = await sendMessage(deps(), { roomId, userId: 'alice', text: 'slow', clientMessageId: 'c-slow' });
    expect(retry).toMatchObject({ created: true, message: { seq: 2, text: 'slow' } });
    expect(await sendMessage(deps(), { roomId, userId: 'alice', text: 'slow', clientMessageId: 'c-slow' })).toMatchObject({ created: false, message: retry.message });
  });

  it('a put whose response was lost is settled in place: stored, answered once', async () => {
    const roomId = await roomWith('alice');
    const lost = faultyChannels({
      putEntry: async (entry) => {
        const stored = await channels.putEntry(entry);
        if (isMessage(entry)) throw new Error('socket hang up');
        return stored;
      },
    });
    const sent = await sendMessage(deps({ channels: lost }), { roomId, userId: 'alice', text: 'made it' });
    expect(sent).toMatchObject({ created: true, published: true, message: { seq: 1, text: 'made it' } });
    expect(await channels.getEntry(`room:${roomId}`, 1)).toMatchObject({ id: sent.message.id });
  });

  it('a put that failed before reaching the table is closed with a tombstone at once and reported "not stored"', async () => {
    const roomId = await roomWith('alice');
    const failing = faultyChannels({
      putEntry: async (entry) => {
        if (isMessage(entry)) throw new Error('connect ETIMEDOUT');
        return channels.putEntry(entry);
      },
    });
    const err = await domainError(sendMessage(deps({ channels: failing }), { roomId, userId: 'alice', text: 'lost' }));
    expect(err.code).toBe('unavailable');
    // No wait for the bound: the writer itself filled its seq.
    expect((await read({ channels }, `room:${roomId}`, 0, 10)).entries.map((e) => e.event)).toEqual([GAP_EVENT]);
  });

  it('a writer that died with its seq recorded on the claim: retries wait until the bound, then store the message once', async () => {
    const roomId = await roomWith('alice');
    const dead = faultyChannels({
      putEntry: async () => {
        throw new Error('function timed out');
      },
    });
    const err = await domainError(sendMessage(deps({ channels: dead }), { roomId, userId: 'alice', text: 'hi', clientMessageId: 'c-dead' }));
    expect(err.message).toMatch(/unknown outcome/);
    expect((await domainError(sendMessage(deps(), { roomId, userId: 'alice', text: 'hi', clientMessageId: 'c-dead' }))).message).toMatch(/in progress/);
    const retry = await sendMessage(deps({ now: later(PAST_BOUND) }), { roomId, userId: 'alice', text: 'hi', clientMessageId: 'c-dead' });
    expect(retry).toMatchObject({ created: true, message: { seq: 2, text: 'hi' } });
    const log = await read({ channels }, `room:${roomId}`, 0, 10);
    expect(log.entries.map((e) => [e.seq, e.event])).toEqual([
      [1, GAP_EVENT],
      [2, 'message.created'],
    ]);
  });

  it('a claim with no seq yet is in progress for the lease, then taken over under its entry id', async () => {
    const roomId = await roomWith('alice');
    const stuck = faultyChannels({
      reserveSeq: async () => {
        throw new Error('crashed before reserving');
      },
    });
    await expect(sendMessage(deps({ channels: stuck }), { roomId, userId: 'alice', text: 'hi', clientMessageId: 'c-stuck' })).rejects.toThrow(/crashed/);
    expect((await domainError(sendMessage(deps(), { roomId, userId: 'alice', text: 'hi', clientMessageId: 'c-stuck' }))).code).toBe('conflict');
    const retry = await sendMessage(deps({ now: later(60_000) }), { roomId, userId: 'alice', text: 'hi', clientMessageId: 'c-stuck' });
    expect(retry).toMatchObject({ created: true, message: { seq: 1 } });
  });
});

describe('publishing', () => {
  it('answers stored with published:false when the publish fails or hangs', async () => {
    const roomId = await roomWith('alice');
    const failures: unknown[] = [];
    const broken: Publisher = { publish: async () => Promise.reject(new Error('redis down')) };
    const hanging: Publisher = { publish: () => new Promise(() => {}) };
    const a = await sendMessage(deps({ publisher: broken, onPublishError: (e) => failures.push(e) }), { roomId, userId: 'alice', text: 'a' });
    const started = Date.now();
    const b = await sendMessage(deps({ publisher: hanging, publishTimeoutMs: 200, onPublishError: (e) => failures.push(e) }), { roomId, userId: 'alice', text: 'b' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect([a, b].map((r) => [r.created, r.published, r.message.seq])).toEqual([
      [true, false, 1],
      [true, false, 2],
    ]);
    expect(failures).toHaveLength(2);
    expect((await listMessages(deps(), { roomId, userId: 'alice', afterSeq: 0, limit: 10 })).messages.map((m) => m.text)).toEqual(['a', 'b']);
  });
});

describe('channel history access', () => {
  it('serves rooms to members, user channels to their user, documents to no one yet', async () => {
    const roomId = await roomWith('alice', 'bob');
    const sent = await sendMessage(deps(), { roomId, userId: 'alice', text: 'hello' });
    const d = deps();
    const page = await listChannelMessages(d, { channel: `room:${roomId}`, userId: 'bob', afterSeq: 0, limit: 10 });
    expect(page).toEqual({
      messages: [{ seq: 1, id: sent.message.id, event: 'message.created', data: sent.message, ts: Date.parse(sent.message.createdAt) }],
      nextAfterSeq: null,
    });
    expect((await domainError(listChannelMessages(d, { channel: `room:${roomId}`, userId: 'mallory', afterSeq: 0, limit: 10 }))).code).toBe('forbidden');
    expect((await domainError(listChannelMessages(d, { channel: 'room:r_nope', userId: 'alice', afterSeq: 0, limit: 10 }))).code).toBe('not_found');

    await append({ channels, publisher }, 'user:carol', { event: 'notification.created', data: { title: 'hi' } });
    expect((await listChannelMessages(d, { channel: 'user:carol', userId: 'carol', afterSeq: 0, limit: 10 })).messages).toMatchObject([
      { seq: 1, event: 'notification.created', data: { title: 'hi' } },
    ]);
    expect((await domainError(listChannelMessages(d, { channel: 'user:carol', userId: 'alice', afterSeq: 0, limit: 10 }))).code).toBe('forbidden');
    expect((await domainError(listChannelMessages(d, { channel: 'document:d_1', userId: 'alice', afterSeq: 0, limit: 10 }))).code).toBe('forbidden');
    expect((await domainError(listChannelMessages(d, { channel: 'lobby:x', userId: 'alice', afterSeq: 0, limit: 10 }))).code).toBe('bad_request');
  });
});
