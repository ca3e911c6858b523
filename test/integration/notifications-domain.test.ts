/**
 * The notification and inbox domain over real DynamoDB stores (dynalite), with
 * a clock the test moves and stores that fail where a crash or a lost
 * response would: what is stored, what is reported, what a retry does, how
 * expiry counts. The mention syntax is checked here too (pure).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoInboxStore } from '../../functions/adapters/dynamo-stores.js';
import { GAP_EVENT, read } from '../../functions/domain/channel-log.js';
import { listNotifications, markAllRead, markRead, unreadCount } from '../../functions/domain/inbox.js';
import { MAX_MENTIONS, parseMentions } from '../../functions/domain/mentions.js';
import { notify, type NotifyDeps } from '../../functions/domain/notifications.js';
import type { InboxStore, LogEntry } from '../../functions/domain/ports.js';
import { INBOX_RETENTION_DAYS } from '../../protocol/index.js';
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
    expect(await inbox.countUnread(blocked, clock)).toBe(0);

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
    expect(await inbox.countUnread(user, clock)).toBe(0);
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
    expect(await inbox.countUnread(user, clock)).toBe(0);
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
      expect(await inbox.countUnread(user, clock)).toBe(0);
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

/** The fingerprint notify computes for `base()` content (type, title, body, no data). */
function fingerprintOf(): string {
  return createHash('sha256').update(JSON.stringify(['t', 'Title', 'Body', null])).digest('base64url');
}
