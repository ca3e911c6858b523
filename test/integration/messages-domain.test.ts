// Covers the messages and rooms domain over real DynamoDB stores (dynalite): seq allocation, idempotency claims, publish-after-persist, membership rules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoChannelStore, DynamoRoomStore } from '../../functions/adapters/dynamo-stores.js';
import { listMessages, MESSAGE_EVENT, sendMessage, type MessageDeps } from '../../functions/domain/messages.js';
import type { LogEntry, Publisher } from '../../functions/domain/ports.js';
import { requireChannelAccess } from '../../functions/domain/channel-access.js';
import { addMember, createRoom, listRooms, removeMember, type RoomDeps } from '../../functions/domain/rooms.js';
import type { LocalDynamo } from '../../local/dynamo.js';
import { startStores, type Stores, domainError } from '../helpers/stores.js';
import { decodeEnvelope, type Envelope } from '../../protocol/index.js';

/** A Publisher port that records what was published and, at that moment, what the log held at that seq. */
class RecordingPublisher implements Publisher {
  readonly published: Array<{ channel: string; envelope: Envelope | null; readableAtPublish?: LogEntry | null }> = [];
  constructor(private readonly store?: DynamoChannelStore) {}
  async publish(channel: string, payload: string): Promise<void> {
    const envelope = decodeEnvelope(payload);
    const entry: (typeof this.published)[number] = { channel, envelope };
    if (this.store && envelope?.kind === 'message') entry.readableAtPublish = await this.store.getEntry(channel, envelope.seq);
    this.published.push(entry);
  }
}

let dynamo: LocalDynamo;
let db: DynamoDBClient;
let rooms: DynamoRoomStore;
let channels: DynamoChannelStore;

let stores: Stores;
beforeAll(async () => {
  stores = await startStores('msgdomain');
  ({ dynamo, db, rooms, channels } = stores);
});
afterAll(() => stores?.stop());

function deps(overrides: Partial<MessageDeps> = {}): MessageDeps & { publisher: RecordingPublisher } {
  return { rooms, channels, publisher: new RecordingPublisher(channels), ...overrides } as MessageDeps & { publisher: RecordingPublisher };
}
const roomDeps = (): RoomDeps & { publisher: RecordingPublisher } => ({ rooms, publisher: new RecordingPublisher() });
const lastSeq = async (roomId: string) => (await channels.head(`room:${roomId}`)).lastSeq;

async function roomWith(owner: string, ...members: string[]): Promise<string> {
  const d = roomDeps();
  const room = await createRoom(d, owner, `room of ${owner}`);
  for (const m of members) await addMember(d, owner, room.roomId, m);
  return room.roomId;
}


const claimKey = (userId: string, clientMessageId: string) => `${userId}#${clientMessageId}`;

describe('sendMessage / listMessages', () => {
  it('treats a retried claim of its own as made, and another request\'s claim as existing', async () => {
    const channel = `room:${await roomWith('alice')}`;
    const mine = { entryId: 'm-own', fingerprint: 'f', claimedAt: 1_000 };
    expect(await channels.claim(channel, claimKey('alice', 'c-own'), mine)).toBeNull();
    expect(await channels.claim(channel, claimKey('alice', 'c-own'), mine)).toBeNull(); // the SDK's retry after a lost response
    expect(await channels.claim(channel, claimKey('alice', 'c-own'), { ...mine, entryId: 'm-other', claimedAt: 2_000 })).toMatchObject({ entryId: 'm-own' });
  });

  it('keeps seq gap-free across stores (containers) that each keep no state', async () => {
    const roomId = await roomWith('alice', 'bob');
    const containers = [new DynamoChannelStore(db, dynamo.tables), new DynamoChannelStore(db, dynamo.tables)];
    const seqs: number[] = [];
    for (let i = 0; i < 12; i++) {
      const { message } = await sendMessage(deps({ channels: containers[i % 3 === 0 ? 0 : 1]! }), { roomId, userId: 'alice', text: `m${i}` });
      seqs.push(message.seq);
    }
    expect(seqs).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(await lastSeq(roomId)).toBe(12);
  });

  it('gives 50 concurrent sends seq 1..50 exactly, each published once after it was stored', async () => {
    const roomId = await roomWith('alice', 'bob');
    const d = deps();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sendMessage(d, { roomId, userId: i % 2 ? 'bob' : 'alice', text: `m${i}` })),
    );
    const range = Array.from({ length: 50 }, (_, i) => i + 1);
    expect(results.every((r) => r.created && r.published === true)).toBe(true);
    expect(results.map((r) => r.message.seq).sort((a, b) => a - b)).toEqual(range);
    expect(new Set(results.map((r) => r.message.id)).size).toBe(50);

    expect(d.publisher.published).toHaveLength(50);
    for (const { channel, envelope, readableAtPublish } of d.publisher.published) {
      expect(channel).toBe(`room:${roomId}`);
      expect(envelope).toMatchObject({ v: 1, kind: 'message', channel, event: MESSAGE_EVENT });
      if (envelope?.kind !== 'message') throw new Error('expected a message envelope');
      // Publish happens after persistence: the published seq is already readable with this id.
      expect(readableAtPublish?.id).toBe(envelope.id);
      expect(envelope.data).toEqual(readableAtPublish?.data);
      expect(envelope.ts).toBe(readableAtPublish?.ts);
      expect(envelope.ts).toBe(Date.parse((envelope.data as { createdAt: string }).createdAt));
    }
    expect(d.publisher.published.map((p) => (p.envelope as { seq: number }).seq).sort((a, b) => a - b)).toEqual(range);

    // History pages through all 50 in order, without gaps.
    const seen: number[] = [];
    let afterSeq = 0;
    for (let page = 0; page < 5; page++) {
      const { messages: batch, nextAfterSeq } = await listMessages(d, { roomId, userId: 'bob', afterSeq, limit: 20 });
      seen.push(...batch.map((m) => m.seq));
      if (nextAfterSeq === null) break;
      afterSeq = nextAfterSeq;
    }
    expect(seen).toEqual(range);
    const texts = new Map(results.map((r) => [r.message.seq, r.message.text]));
    const stored = await listMessages(d, { roomId, userId: 'alice', afterSeq: 0, limit: 50 });
    expect(stored.messages.map((m) => m.text)).toEqual(range.map((s) => texts.get(s)));
    expect(stored.messages).toEqual(results.map((r) => r.message).sort((a, b) => a.seq - b.seq));
    expect(stored.nextAfterSeq).toBe(50);
    expect((await listMessages(d, { roomId, userId: 'alice', afterSeq: 50, limit: 50 })).nextAfterSeq).toBeNull();
  });

  it('refuses non-members (forbidden) and unknown rooms (not_found), storing and publishing nothing', async () => {
    const roomId = await roomWith('alice');
    const d = deps();
    expect((await domainError(sendMessage(d, { roomId, userId: 'mallory', text: 'hi' }))).code).toBe('forbidden');
    expect((await domainError(sendMessage(d, { roomId: 'r_nope', userId: 'alice', text: 'hi' }))).code).toBe('not_found');
    expect((await domainError(sendMessage(d, { roomId, userId: 'mallory', text: 'hi', clientMessageId: 'c-1' }))).code).toBe('forbidden');
    expect((await domainError(listMessages(d, { roomId, userId: 'mallory', afterSeq: 0, limit: 10 }))).code).toBe('forbidden');
    expect(await lastSeq(roomId)).toBe(0);
    expect(d.publisher.published).toEqual([]);
    // The refused send claimed nothing: once a member, the same id is a fresh send.
    await addMember(roomDeps(), 'alice', roomId, 'mallory');
    const sent = await sendMessage(d, { roomId, userId: 'mallory', text: 'hello', clientMessageId: 'c-1' });
    expect(sent).toMatchObject({ created: true, message: { seq: 1, text: 'hello' } });
  });

  it('returns the stored message with created:false on an idempotent retry and publishes it again at the same seq', async () => {
    const roomId = await roomWith('alice');
    const d = deps();
    const first = await sendMessage(d, { roomId, userId: 'alice', text: 'once', clientMessageId: 'c-1' });
    const retry = await sendMessage(d, { roomId, userId: 'alice', text: 'once', clientMessageId: 'c-1' });
    expect(first).toMatchObject({ created: true, published: true });
    expect(first.message).toMatchObject({ seq: 1, text: 'once', clientMessageId: 'c-1' });
    expect(retry).toEqual({ message: first.message, created: false, published: true });
    // The first attempt may have died before publishing: the replay publishes the same entry (clients dedupe by seq).
    expect(d.publisher.published.map((p) => p.envelope)).toEqual([
      expect.objectContaining({ kind: 'message', seq: 1, id: first.message.id }),
      expect.objectContaining({ kind: 'message', seq: 1, id: first.message.id }),
    ]);
    expect(await lastSeq(roomId)).toBe(1);
  });

  it('concurrent retries of one clientMessageId store one message', async () => {
    const roomId = await roomWith('alice');
    const d = deps();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, () => sendMessage(d, { roomId, userId: 'alice', text: 'dup', clientMessageId: 'c-race' })),
    );
    const created = outcomes.filter((o) => o.status === 'fulfilled' && o.value.created);
    expect(created).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'conflict' }); // "still in progress"
    }
    expect(await lastSeq(roomId)).toBe(1);
    // One publish per answered request (replays publish again), all of the one entry.
    const answered = outcomes.filter((o) => o.status === 'fulfilled');
    expect(d.publisher.published).toHaveLength(answered.length);
    expect(new Set(d.publisher.published.map((p) => `${(p.envelope as { seq: number }).seq} ${(p.envelope as { id: string }).id}`)).size).toBe(1);
  });

  it('rejects the same clientMessageId with a different text as a conflict', async () => {
    const roomId = await roomWith('alice');
    const d = deps();
    await sendMessage(d, { roomId, userId: 'alice', text: 'original', clientMessageId: 'c-2' });
    const err = await domainError(sendMessage(d, { roomId, userId: 'alice', text: 'changed', clientMessageId: 'c-2' }));
    expect(err.code).toBe('conflict');
    expect(err.message).toContain('clientMessageId');
    expect(await lastSeq(roomId)).toBe(1);
    expect(d.publisher.published).toHaveLength(1);
  });

  it('lets two users reuse the same clientMessageId independently', async () => {
    const roomId = await roomWith('alice', 'bob');
    const d = deps();
    const a = await sendMessage(d, { roomId, userId: 'alice', text: 'from alice', clientMessageId: 'shared' });
    const b = await sendMessage(d, { roomId, userId: 'bob', text: 'from bob', clientMessageId: 'shared' });
    expect(a.created && b.created).toBe(true);
    expect(a.message.id).not.toBe(b.message.id);
    expect([a.message.seq, b.message.seq]).toEqual([1, 2]);
    expect(d.publisher.published).toHaveLength(2);
  });
});

describe('rooms', () => {
  it('creates a room whose creator is a member and lists it for them', async () => {
    const d = roomDeps();
    const room = await createRoom(d, 'alice', 'town hall');
    expect(room).toMatchObject({ name: 'town hall', createdBy: 'alice' });
    expect(await rooms.getMembership(room.roomId, 'alice')).toMatchObject({ roomId: room.roomId, userId: 'alice', addedBy: 'alice' });
    await requireChannelAccess(rooms, 'alice', { kind: 'room', id: room.roomId });
    const listed = await listRooms(d, 'alice', { limit: 100 });
    expect(listed.rooms.find((r) => r.roomId === room.roomId)).toMatchObject({ name: 'town hall', joinedAt: room.createdAt, role: 'owner' });
  });

  it('room access tells an unknown room (not_found) from a non-member (forbidden)', async () => {
    const roomId = await roomWith('alice');
    expect((await domainError(requireChannelAccess(rooms, 'alice', { kind: 'room', id: 'r_does_not_exist' }))).code).toBe('not_found');
    expect((await domainError(requireChannelAccess(rooms, 'mallory', { kind: 'room', id: roomId }))).code).toBe('forbidden');
  });

  it('addMember twice reports created:false and keeps the original membership, role included', async () => {
    const roomId = await roomWith('alice', 'carol');
    const d: RoomDeps = { rooms, publisher: new RecordingPublisher(), now: () => new Date('2030-01-01T00:00:00Z') };
    const first = await addMember(d, 'alice', roomId, 'bob');
    expect(first.created).toBe(true);
    await addMember(d, 'alice', roomId, 'carol'); // carol already there
    const again = await addMember({ ...d, now: () => new Date('2031-01-01T00:00:00Z') }, 'alice', roomId, 'bob', 'admin');
    expect(again.created).toBe(false);
    expect(again.membership).toEqual({ roomId, userId: 'bob', addedBy: 'alice', joinedAt: '2030-01-01T00:00:00.000Z', role: 'member' });
    // A plain member may not add anyone, not even someone already in the room.
    expect((await domainError(addMember(d, 'carol', roomId, 'bob'))).code).toBe('forbidden');
  });

  it('addMember by a non-member is forbidden', async () => {
    const roomId = await roomWith('alice');
    expect((await domainError(addMember(roomDeps(), 'mallory', roomId, 'mallory'))).code).toBe('forbidden');
    expect(await rooms.getMembership(roomId, 'mallory')).toBeNull();
  });

  it('removeMember deletes the membership and then publishes a revoke envelope', async () => {
    const roomId = await roomWith('alice', 'bob');
    const d = roomDeps();
    await removeMember(d, 'alice', roomId, 'bob');
    expect(await rooms.getMembership(roomId, 'bob')).toBeNull();
    expect(d.publisher.published).toEqual([
      { channel: `room:${roomId}`, envelope: { v: 1, kind: 'revoke', channel: `room:${roomId}`, userId: 'bob' } },
    ]);
    expect((await domainError(requireChannelAccess(rooms, 'bob', { kind: 'room', id: roomId }))).code).toBe('forbidden');
  });

  it('lets members remove themselves but not others', async () => {
    const roomId = await roomWith('alice', 'bob', 'carol');
    const d = roomDeps();
    expect((await domainError(removeMember(d, 'bob', roomId, 'carol'))).code).toBe('forbidden');
    expect(await rooms.getMembership(roomId, 'carol')).not.toBeNull();
    await removeMember(d, 'bob', roomId, 'bob');
    expect(await rooms.getMembership(roomId, 'bob')).toBeNull();
    expect(d.publisher.published.map((p) => p.envelope)).toEqual([{ v: 1, kind: 'revoke', channel: `room:${roomId}`, userId: 'bob' }]);
  });

  it('removeMember of a non-member or in an unknown room is not_found and publishes nothing', async () => {
    const roomId = await roomWith('alice');
    const d = roomDeps();
    expect((await domainError(removeMember(d, 'alice', roomId, 'nobody'))).code).toBe('not_found');
    expect((await domainError(removeMember(d, 'alice', 'r_missing', 'alice'))).code).toBe('not_found');
    expect(d.publisher.published).toEqual([]);
  });
});
