/**
 * The notification and inbox domain over real DynamoDB stores (dynalite), with
 * a clock the test moves and stores that fail where a crash or a lost
 * response would: what is stored, what is reported, what a retry does, how
 * expiry counts. The mention syntax is checked here too (pure).
 */
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoInboxStore } from '../../functions/adapters/dynamo-inbox.js';
import { GAP_EVENT, read } from '../../functions/domain/channel-log.js';
import { listNotifications, markAllRead, markRead, unreadCount } from '../../functions/domain/inbox.js';
import { MAX_MENTIONS, parseMentions } from '../../functions/domain/mentions.js';
import { sendMessage } from '../../functions/domain/messages.js';
import { addMember, createRoom } from '../../functions/domain/rooms.js';
import { notify, type NotifyDeps } from '../../functions/domain/notifications.js';
import type { InboxItem, InboxStore, LogEntry } from '../../functions/domain/ports.js';
import { INBOX_RETENTION_DAYS } from '../../protocol/index.js';
import { toAttributes } from '../../shared/dynamo-items.js';
import { domainError, faulty, startStores, type Stores } from '../helpers/stores.js';

let stores: Stores;
let inbox: DynamoInboxStore;
const published: Array<{ channel: string; payload: string }> = [];
const publisher = { publish: async (channel: string, payload: string) => void published.push({ channel, payload }) };
let clock = Date.now();
const deps = (over: Partial<NotifyDeps> = {}): NotifyDeps => ({ channels: stores.channels, inbox, publisher, now: () => clock, ...over });
let n = 0;
const fresh = (name: string) => `${name}-d${++n}`;
const base = (userIds: string[], extra: Record<string, unknown> = {}) => ({ userIds, type: 't', title: 'Title', body: 'Body', namespace: 'api:test', ...extra });
const DAY = 24 * 60 * 60 * 1000;

beforeAll(async () => {
  stores = await startStores('notifydomain');
  inbox = new DynamoInboxStore(stores.db, stores.dynamo.tables);
});
afterAll(() => stores?.stop());

describe('mention syntax', () => {
  it('finds @ids at the start or after a non-id character, drops trailing punctuation, ignores emails', () => {
    expect(parseMentions('@alice hi @bob, and @carol. Also (@dave) and @auth0|42: ok')).toEqual(['alice', 'bob', 'carol', 'dave', 'auth0|42']);
    expect(parseMentions('mail bob@example.com or me@x')).toEqual([]);
    expect(parseMentions('@a@b.c is an email-like id')).toEqual(['a@b.c']);
    expect(parseMentions('@alice @alice @alice')).toEqual(['alice']);
    expect(parseMentions('@ @. @- @@')).toEqual([]);
    expect(parseMentions(`@${'x'.repeat(129)}`)).toEqual([]); // longer than any user id
    expect(parseMentions(Array.from({ length: 30 }, (_, i) => `@u${i}`).join(' '))).toHaveLength(MAX_MENTIONS);
  });
});

describe('notify', () => {
  it('reports a recipient whose seq is taken as failed, takes its inbox item back, and a retry stores it', async () => {
    const [ok, blocked] = [fresh('ok'), fresh('blocked')];
    // A tombstone already sits at the seq the blocked user's channel hands out next.
    expect(await stores.channels.putEntry({ channel: `user:${blocked}`, seq: 1, id: 'gap-1', event: GAP_EVENT, data: null, ts: clock })).toBe(true);
    const first = await notify(deps(), base([ok, blocked], { idempotencyKey: 'k-taken' }));
    expect(first.results.map((r) => r.status)).toEqual(['stored', 'failed']);
    expect(first.results[1]!.reason).toContain('retry with the same idempotencyKey');
    expect(await inbox.getItem(blocked, first.results[1]!.id!, clock)).toBeNull();
    expect(await inbox.countUnread(blocked, clock, 1000)).toBe(0);

    const retry = await notify(deps(), base([ok, blocked], { idempotencyKey: 'k-taken' }));
    expect(retry.results.map((r) => r.status)).toEqual(['duplicate', 'stored']);
    expect(retry.results[1]).toMatchObject({ id: first.results[1]!.id, seq: 2 });
    expect((await inbox.getItem(blocked, first.results[1]!.id!, clock))?.seq).toBe(2);
  });

  it('writes nothing past its deadline budget: reserved seqs become tombstones at once, every recipient failed', async () => {
    const user = fresh('late');
    const out = await notify(deps({ deadline: clock + 1000 }), base([user]));
    expect(out).toMatchObject({ stored: 0, failed: 1 });
    expect(out.results[0]!.reason).toContain('too slow');
    const page = await read({ channels: stores.channels, now: () => clock }, `user:${user}`, 0, 10);
    expect(page.entries.map((e) => e.event)).toEqual([GAP_EVENT]);
    expect(await inbox.countUnread(user, clock, 1000)).toBe(0);
  });

  it('writes no entry once its write could not finish in time: items taken back, seqs tombstoned', async () => {
    const user = fresh('slow');
    const start = clock;
    // The inbox batch is slow: by its end the deadline's budget is used up.
    const slow: InboxStore = Object.assign(Object.create(inbox) as InboxStore, {
      putItems: async (items: Parameters<InboxStore['putItems']>[0]) => {
        await inbox.putItems(items);
        clock += 2000;
      },
    });
    const out = await notify(deps({ inbox: slow, deadline: start + 8000 }), base([user]));
    clock = start;
    expect(out.results[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('too slow') });
    expect((await inbox.list(user, { limit: 10, unread: false, now: clock })).items).toEqual([]);
    expect(await inbox.countUnread(user, clock, 1000)).toBe(0);
    const page = await read({ channels: stores.channels, now: () => clock }, `user:${user}`, 0, 10);
    expect(page.entries.map((e) => e.event)).toEqual([GAP_EVENT]);
  });

  it('takes back every item when the inbox batch fails, and tombstones their seqs', async () => {
    const users = [fresh('b1'), fresh('b2')];
    const failing: InboxStore = Object.assign(Object.create(inbox) as InboxStore, {
      putItems: async (items: Parameters<InboxStore['putItems']>[0]) => {
        await inbox.putItems(items.slice(0, 1)); // one landed before the failure
        throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
      },
    });
    const out = await notify(deps({ inbox: failing }), base(users, { idempotencyKey: 'k-batch' }));
    expect(out.results.map((r) => [r.status, r.reason])).toEqual(users.map(() => ['failed', expect.stringContaining('ThrottlingException')]));
    for (const user of users) {
      expect((await inbox.list(user, { limit: 10, unread: false, now: clock })).items).toEqual([]);
      expect(await inbox.countUnread(user, clock, 1000)).toBe(0);
    }
    // The retry (same key) stores both, once.
    const retry = await notify(deps(), base(users, { idempotencyKey: 'k-batch' }));
    expect(retry.results.map((r) => r.status)).toEqual(['stored', 'stored']);
  });

  it('settles an entry put with an unknown outcome by filling its seq: stored when ours is there', async () => {
    const user = fresh('lost');
    // The put lands, but its answer is lost.
    const channels = faulty(stores.channels, {
      putEntry: async (entry: LogEntry) => {
        if (entry.event === GAP_EVENT) return stores.channels.putEntry(entry);
        await stores.channels.putEntry(entry);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      },
    });
    const out = await notify(deps({ channels }), base([user]));
    expect(out.results[0]).toMatchObject({ status: 'stored', seq: 1, published: true });
  });

  it('does not take an inbox item without its entry for a stored notification: a retry stores the entry (B1)', async () => {
    const user = fresh('cut');
    // An attempt cut off between its inbox items and its entries (a crash, a timeout): it never goes on.
    const cut: InboxStore = Object.assign(Object.create(inbox) as InboxStore, {
      putItems: async (items: InboxItem[]) => {
        await inbox.putItems(items);
        return new Promise<void>(() => {});
      },
    });
    void notify(deps({ inbox: cut }), base([user], { idempotencyKey: 'k-cut' }));
    await until(async () => (await inbox.countUnread(user, clock, 1000)) === 1);

    clock += 31_000; // past CLAIM_LEASE_MS: that attempt is gone
    const retry = await notify(deps(), base([user], { idempotencyKey: 'k-cut' }));
    expect(retry.results[0]).toMatchObject({ status: 'stored', seq: 2 });
    const id = retry.results[0]!.id!;
    clock += 16_000; // past the gap bound, so that history accounts for seq 1
    const page = await read({ channels: stores.channels, now: () => clock }, `user:${user}`, 0, 10);
    // The cut-off attempt's seq holds nothing of it (a tombstone once read); the entry is at the item's new seq.
    expect(page.entries.map((e) => [e.seq, e.event, e.id])).toEqual([
      [1, GAP_EVENT, 'gap-1'],
      [2, 'notification', id],
    ]);
    expect((await inbox.getItem(user, id, clock))?.seq).toBe(2);
    expect(await inbox.countUnread(user, clock, 1000)).toBe(1);
    // And now it is a duplicate.
    expect((await notify(deps(), base([user], { idempotencyKey: 'k-cut' }))).results[0]!.status).toBe('duplicate');
    clock = Date.now();
  });

  it('answers 409, not duplicates, to a retry while the first attempt is between its items and its entries (B2)', async () => {
    const user = fresh('mid');
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let entered!: () => void;
    const atEntries = new Promise<void>((resolve) => (entered = resolve));
    const held = faulty(stores.channels, {
      putEntry: async (entry: LogEntry) => {
        entered();
        await gate;
        return stores.channels.putEntry(entry);
      },
    });
    const first = notify(deps({ channels: held }), base([user], { idempotencyKey: 'k-mid' }));
    await atEntries; // its inbox item is written, its entry not yet
    const err = await domainError(notify(deps(), base([user], { idempotencyKey: 'k-mid' })));
    expect([err.code, err.message]).toEqual(['conflict', expect.stringContaining('retry shortly')]);
    open();
    expect((await first).results[0]!.status).toBe('stored');
    expect((await notify(deps(), base([user], { idempotencyKey: 'k-mid' }))).results[0]!.status).toBe('duplicate');
  });

  it('takes back a flag that landed without its item, and leaves another attempt\'s flag (B3)', async () => {
    const user = fresh('split');
    // The inbox batch splits a pair: the flag lands, its item stays unprocessed, and the batch fails.
    const split: InboxStore = Object.assign(Object.create(inbox) as InboxStore, {
      putItems: async (items: InboxItem[]) => {
        await inbox.putItems(items);
        for (const item of items) await stores.db.send(new DeleteItemCommand({ TableName: stores.dynamo.tables.inbox, Key: toAttributes({ userId: item.userId, sk: `n#${item.id}` }) }));
        throw Object.assign(new Error('still unprocessed'), { name: 'ThrottlingException' });
      },
    });
    const out = await notify(deps({ inbox: split }), base([user], { idempotencyKey: 'k-split' }));
    expect(out.results[0]!.status).toBe('failed');
    expect(await inbox.countUnread(user, clock, 1000)).toBe(0);
    expect((await listNotifications(deps(), { userId: user, unread: true, limit: 10 })).items).toEqual([]);

    // Another attempt's flag (another seq) is not ours to take back.
    const id = out.results[0]!.id!;
    await stores.db.send(new PutItemCommand({ TableName: stores.dynamo.tables.inbox, Item: toAttributes({ userId: user, sk: `u#${id}`, seq: 7, expiresAt: Math.ceil(clock / 1000) + 3600 }) }));
    await inbox.removeItem(user, id, 1);
    expect(await inbox.countUnread(user, clock, 1000)).toBe(1);
    await inbox.removeItem(user, id, 7);
    expect(await inbox.countUnread(user, clock, 1000)).toBe(0);
  });

  it('reports a put it cannot settle as unknown and keeps the item; a retry finds the entry and stores no second one (R3)', async () => {
    const user = fresh('unsure');
    // The put lands but its answer is lost, and the seq cannot be read back or filled either.
    const channels = faulty(stores.channels, {
      putEntry: async (entry: LogEntry) => {
        if (entry.event !== GAP_EVENT) await stores.channels.putEntry(entry);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      },
      getEntry: async () => {
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      },
    });
    const first = await notify(deps({ channels }), base([user], { idempotencyKey: 'k-unsure' }));
    expect(first).toMatchObject({ stored: 0, failed: 0, unknown: 1 });
    expect(first.results[0]).toMatchObject({ status: 'unknown', reason: expect.stringContaining('retry with the same idempotencyKey') });
    expect(await inbox.getItem(user, first.results[0]!.id!, clock)).not.toBeNull();

    const retry = await notify(deps(), base([user], { idempotencyKey: 'k-unsure' }));
    expect(retry).toMatchObject({ stored: 0, duplicates: 1, unknown: 0 });
    const page = await read({ channels: stores.channels, now: () => clock }, `user:${user}`, 0, 10);
    expect(page.entries.map((e) => [e.seq, e.id])).toEqual([[1, first.results[0]!.id]]);
  });

  it('finishes or takes back a mention before the send answers, never abandoning it half-way: a replay completes it at once', async () => {
    const [owner, member] = [fresh('mo'), fresh('mm')];
    const roomDeps = { rooms: stores.rooms, publisher };
    const room = await createRoom(roomDeps, owner, 'mentions');
    await addMember(roomDeps, owner, room.roomId, member);
    // The inbox write takes 300 ms of real time, beyond the mention budget of 50 ms.
    const slow: InboxStore = Object.assign(Object.create(inbox) as InboxStore, {
      putItems: async (items: InboxItem[]) => {
        await new Promise((r) => setTimeout(r, 300));
        await inbox.putItems(items);
      },
    });
    const errors: unknown[] = [];
    const send = (store: InboxStore, mentionTimeoutMs?: number) =>
      sendMessage(
        { rooms: stores.rooms, channels: stores.channels, publisher, inbox: store, mentionTimeoutMs, onMentionError: (e) => errors.push(e) },
        { roomId: room.roomId, userId: owner, text: `hi @${member}`, clientMessageId: 'c-mention' },
      );
    const notifications = async () => (await read({ channels: stores.channels }, `user:${member}`, 0, 10)).entries.filter((e) => e.event === 'notification');
    const sent = await send(slow, 50);
    // When the send answered, the mention was over: nothing half-written, its key released.
    expect(errors.map(String)).toEqual([expect.stringContaining('too slow')]);
    expect((await inbox.list(member, { limit: 10, unread: false, now: Date.now() })).items).toEqual([]);
    expect(await notifications()).toEqual([]);

    const replay = await send(inbox); // the default budget (1.5 s)
    expect(replay.created).toBe(false);
    expect(errors.slice(1).map(String)).toEqual([]); // no 409 from a lease still held
    const entries = await notifications();
    expect(entries.map((e) => (e.data as { data: { messageId: string } }).data.messageId)).toEqual([sent.message.id]);
    expect((await inbox.list(member, { limit: 10, unread: false, now: Date.now() })).items.map((i) => i.id)).toEqual(entries.map((e) => e.id));
  });

  it('answers 409 while another attempt holds the key, and takes over once its lease ran out', async () => {
    const user = fresh('held');
    // An attempt that claimed the key and died before writing anything.
    const claimedAt = clock;
    expect(await stores.channels.claim('notify:api:test', 'k-held', { entryId: `at-${claimedAt}-dead`, fingerprint: fingerprintOf(), claimedAt })).toBeNull();
    const err = await domainError(notify(deps(), base([user], { idempotencyKey: 'k-held' })));
    expect([err.code, err.message]).toEqual(['conflict', expect.stringContaining('retry shortly')]);
    expect((await inbox.list(user, { limit: 10, unread: false, now: clock })).items).toEqual([]);

    clock += 31_000; // past CLAIM_LEASE_MS
    const out = await notify(deps(), base([user], { idempotencyKey: 'k-held' }));
    expect(out.results[0]!.status).toBe('stored');
    // Its id carries the first attempt's time: the id an earlier success would have had.
    expect(out.results[0]!.id!.slice(0, 9)).toBe(claimedAt.toString(36).padStart(9, '0'));
  });

  it('lets one of two first attempts in the same millisecond write; the other gets 409 or duplicates', async () => {
    const users = [fresh('same1'), fresh('same2')];
    const settled = await Promise.allSettled([notify(deps(), base(users, { idempotencyKey: 'k-same' })), notify(deps(), base(users, { idempotencyKey: 'k-same' }))]);
    const stored = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value.stored] : []));
    expect(stored.reduce((a, b) => a + b, 0)).toBe(2);
    for (const r of settled) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('conflict');
    for (const user of users) expect((await inbox.list(user, { limit: 10, unread: false, now: clock })).items).toHaveLength(1);
  });

  it('refuses a key reused for other content with 409, before writing', async () => {
    const user = fresh('reuse');
    await notify(deps(), base([user], { idempotencyKey: 'k-reuse' }));
    const err = await domainError(notify(deps(), base([user], { idempotencyKey: 'k-reuse', body: 'other' })));
    expect(err.code).toBe('conflict');
  });
});

describe('inbox expiry and counts', () => {
  it('stops counting and listing an item the moment it expires, though DynamoDB has not deleted it', async () => {
    const user = fresh('exp');
    const start = clock;
    const old = await notify(deps(), base([user], { title: 'old' }));
    clock += 2 * DAY;
    await notify(deps(), base([user], { title: 'new' }));
    expect((await unreadCount(deps(), user)).unread).toBe(2);

    clock = start + INBOX_RETENTION_DAYS * DAY + 1000; // only the first has expired (expiry is rounded up to the second)
    expect((await unreadCount(deps(), user)).unread).toBe(1);
    expect((await listNotifications(deps(), { userId: user, unread: false, limit: 10 })).items.map((i) => i.title)).toEqual(['new']);
    expect((await listNotifications(deps(), { userId: user, unread: true, limit: 10 })).items.map((i) => i.title)).toEqual(['new']);
    const err = await domainError(markRead(deps(), user, old.results[0]!.id!));
    expect(err.code).toBe('not_found');
    expect((await markAllRead(deps(), user)).unread).toBe(0);
    clock = Date.now();
  });

  it('counts no further than asked, and read-all counts no expired flag as cleared (no event for them)', async () => {
    const user = fresh('cap');
    const start = clock;
    await notify(deps(), base([user], { title: 'a' }));
    await notify(deps(), base([user], { title: 'b' }));
    await notify(deps(), base([user], { title: 'c' }));
    expect(await inbox.countUnread(user, clock, 2)).toBe(2);
    expect(await inbox.countUnread(user, clock, 1000)).toBe(3);

    clock = start + INBOX_RETENTION_DAYS * DAY + 1000; // all three expired, not yet deleted
    expect(await markAllRead(deps(), user)).toEqual({ unread: 0 });
    const page = await read({ channels: stores.channels, now: () => clock }, `user:${user}`, 0, 10);
    expect(page.entries.map((e) => e.event)).toEqual(['notification', 'notification', 'notification']);
    clock = Date.now();
  });

  it('stops read-all at its time budget and says more remain; a second call finishes', async () => {
    const user = fresh('many');
    const expiresAt = Math.ceil((clock + DAY) / 1000);
    const items = Array.from({ length: 250 }, (_, i): InboxItem => ({ userId: user, id: `${(clock + i).toString(36).padStart(9, '0')}-${'A'.repeat(16)}`, type: 't', title: `n${i}`, body: '', createdAt: clock + i, seq: i + 1, expiresAt }));
    await inbox.putItems(items);
    // Each round takes 1 s; the deadline leaves 2 s for rounds before the event's reserve.
    const rounds: InboxStore = Object.assign(Object.create(inbox) as InboxStore, {
      clearSomeUnread: async (u: string, limit: number, now: number) => {
        const done = await inbox.clearSomeUnread(u, limit, now);
        clock += 1000;
        return done;
      },
    });
    const first = await markAllRead(deps({ inbox: rounds, deadline: clock + 7_500 + 2_000 }), user);
    expect(first).toEqual({ unread: 50, more: true });
    expect(await markAllRead(deps(), user)).toEqual({ unread: 0 });
    clock = Date.now();
  });

  it('appends one notification.read entry per change, with the count after it, and none for a repeat', async () => {
    const user = fresh('ev');
    const out = await notify(deps(), base([user]));
    const id = out.results[0]!.id!;
    expect(await markRead(deps(), user, id)).toEqual({ unread: 0 });
    expect(await markRead(deps(), user, id)).toEqual({ unread: 0 });
    expect(await markAllRead(deps(), user)).toEqual({ unread: 0 });
    const page = await read({ channels: stores.channels, now: () => clock }, `user:${user}`, 0, 10);
    expect(page.entries.map((e) => [e.event, e.data])).toEqual([
      ['notification', expect.objectContaining({ id, read: false })],
      ['notification.read', { ids: [id], unread: 0 }],
    ]);
  });
});

/** Resolves once `check` holds (polled); fails the test after 10 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (const started = Date.now(); !(await check()); ) {
    if (Date.now() - started > 10_000) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The fingerprint notify computes for `base()` content (type, title, body, no data). */
function fingerprintOf(): string {
  return createHash('sha256').update(JSON.stringify(['t', 'Title', 'Body', null])).digest('base64url');
}
