/**
 * The rooms domain over the real DynamoDB store (dynalite): paging and
 * counting read only what they need, the default page size, the cap as a
 * domain option, and the write order of an ownership transfer.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../shared/dynamo-client.js';
import { DynamoRoomStore } from '../../functions/adapters/dynamo-stores.js';
import type { Membership, Publisher, Role, RoomStore } from '../../functions/domain/ports.js';
import { addMember, changeRole, createRoom, listRooms, removeMember, ROOMS_PAGE_DEFAULT_LIMIT, type RoomDeps } from '../../functions/domain/rooms.js';
import { startDynamo, type LocalDynamo } from '../../local/dynamo.js';
import { domainError } from '../helpers/stores.js';

let dynamo: LocalDynamo;
let db: DynamoDBClient;
let store: DynamoRoomStore;
/** Items each Query returned (or counted), in order: what the store read. */
let queries: Array<{ index?: string; limit?: number; returned: number }> = [];
let userCounter = 0;
const fresh = (name: string) => `${name}-${++userCounter}`;

const quiet: Publisher = { publish: async () => {} };
const deps = (overrides: Partial<RoomDeps> = {}): RoomDeps => ({ rooms: store, publisher: quiet, ...overrides });

beforeAll(async () => {
  dynamo = await startDynamo({ prefix: 'roomsstore' });
  db = createDynamoClient({ endpoint: dynamo.endpoint });
  // Added before the first call (the client caches its middleware stack).
  db.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const input = args.input as { IndexName?: string; Limit?: number; KeyConditionExpression?: string };
      const output = out.output as { Count?: number };
      if (input.KeyConditionExpression) queries.push({ index: input.IndexName, limit: input.Limit, returned: output.Count ?? 0 });
      return out;
    },
    { step: 'initialize', name: 'recordQueries' },
  );
  store = new DynamoRoomStore(db, dynamo.tables);
});
afterAll(async () => {
  db?.destroy();
  await dynamo?.stop();
});
beforeEach(() => {
  queries = [];
});


/** Puts `user` into `n` rooms created by someone else (memberships only count, rooms need not be listed). */
async function joinRooms(user: string, n: number): Promise<string[]> {
  const owner = fresh('owner');
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const room = await createRoom(deps(), owner, `room ${i}`);
      await addMember(deps(), owner, room.roomId, user);
      return room.roomId;
    }),
  );
}

describe('listing and counting a user’s rooms', () => {
  it('reads one page (limit + 1 items) per request, never the whole list', async () => {
    const user = fresh('pager');
    const ids = (await joinRooms(user, 9)).sort();
    queries = [];
    const first = await listRooms(deps(), user, { limit: 4 });
    expect(first.rooms.map((r) => r.roomId)).toEqual(ids.slice(0, 4));
    expect(queries).toEqual([{ index: 'byUser', limit: 5, returned: 5 }]);
    const second = await listRooms(deps(), user, { limit: 4, cursor: first.nextCursor! });
    expect(second.rooms.map((r) => r.roomId)).toEqual(ids.slice(4, 8));
    const third = await listRooms(deps(), user, { limit: 4, cursor: second.nextCursor! });
    expect(third).toMatchObject({ rooms: [{ roomId: ids[8], role: 'member' }], nextCursor: null });
  });

  it(`returns ${ROOMS_PAGE_DEFAULT_LIMIT} rooms by default, with a cursor to the rest`, async () => {
    const user = fresh('many');
    const ids = (await joinRooms(user, ROOMS_PAGE_DEFAULT_LIMIT + 1)).sort();
    const first = await listRooms(deps(), user);
    expect(first.rooms).toHaveLength(ROOMS_PAGE_DEFAULT_LIMIT);
    const rest = await listRooms(deps(), user, { cursor: first.nextCursor! });
    expect(rest).toMatchObject({ rooms: [{ roomId: ids.at(-1) }], nextCursor: null });
  });

  it('counts memberships no further than asked', async () => {
    const user = fresh('counted');
    await joinRooms(user, 6);
    queries = [];
    expect(await store.countMemberships(user, 4)).toBe(4);
    expect(queries).toEqual([{ index: 'byUser', limit: 4, returned: 4 }]);
    expect(await store.countMemberships(user, 100)).toBe(6);
    expect(await store.countMemberships(fresh('nobody'), 100)).toBe(0);
  });

  it('tells whether a room has members other than the given one', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const room = await createRoom(deps(), alice, 'pair');
    expect(await store.hasOtherMembers(room.roomId, alice)).toBe(false);
    await addMember(deps(), alice, room.roomId, bob);
    expect(await store.hasOtherMembers(room.roomId, alice)).toBe(true);
    expect(await store.hasOtherMembers(room.roomId, bob)).toBe(true);
  });
});

describe('the rooms-per-user cap as a domain option', () => {
  it('refuses adds and creates at maxRoomsPerUser with limit_exceeded, writing nothing', async () => {
    const [user, alice] = [fresh('full'), fresh('alice')];
    await joinRooms(user, 3);
    const capped = deps({ maxRoomsPerUser: 3 });
    const room = await createRoom(capped, alice, 'one more');
    const err = await domainError(addMember(capped, alice, room.roomId, user));
    expect(err.code).toBe('limit_exceeded');
    expect(err.message).toContain(`User ${user} already belongs to 3 rooms`);
    expect(await store.getMembership(room.roomId, user)).toBeNull();
    expect((await domainError(createRoom(capped, user, 'mine'))).code).toBe('limit_exceeded');
    expect(await store.countMemberships(user, 100)).toBe(3);
    // With the default cap the same add goes through.
    expect((await addMember(deps(), alice, room.roomId, user)).created).toBe(true);
  });
});

describe('rooms others may add a user to', () => {
  it('are capped below the total, so others filling them cannot stop the user creating rooms', async () => {
    const [victim, mallory] = [fresh('victim'), fresh('mallory')];
    const capped = deps({ maxRoomsPerUser: 4, maxRoomsAddedByOthers: 2 });
    const rooms = await Promise.all([1, 2, 3].map((i) => createRoom(capped, mallory, `trap ${i}`)));
    await addMember(capped, mallory, rooms[0]!.roomId, victim);
    await addMember(capped, mallory, rooms[1]!.roomId, victim);
    const err = await domainError(addMember(capped, mallory, rooms[2]!.roomId, victim));
    expect(err.code).toBe('limit_exceeded');
    expect(err.message).toContain('added to 2 rooms by others');
    // The victim's own rooms still fit, up to the total.
    await createRoom(capped, victim, 'mine 1');
    await createRoom(capped, victim, 'mine 2');
    expect((await domainError(createRoom(capped, victim, 'mine 3'))).code).toBe('limit_exceeded');
    expect(await store.countMemberships(victim, 100, { addedByOthers: true })).toBe(2);
    expect(await store.countMemberships(victim, 100)).toBe(4);
  });
});

describe('ownership transfer', () => {
  it('promotes the new owner before demoting the old one: a crash in between leaves two owners, never none', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const room = await createRoom(deps(), alice, 'handover');
    await addMember(deps(), alice, room.roomId, bob);
    const writes: Array<[string, Role]> = [];
    // The store dies after its first role write, as a Lambda timing out would.
    const crashing: RoomStore = Object.assign(Object.create(store) as RoomStore, {
      setRole: async (roomId: string, userId: string, role: Role) => {
        if (writes.length > 0) throw new Error('crashed between the two writes');
        writes.push([userId, role]);
        return store.setRole(roomId, userId, role);
      },
    });
    await expect(changeRole(deps({ rooms: crashing }), alice, room.roomId, bob, 'owner')).rejects.toThrow('crashed');
    expect(writes).toEqual([[bob, 'owner']]);
    const roles = async () => Promise.all([alice, bob].map(async (u) => (await store.getMembership(room.roomId, u) as Membership).role));
    expect(await roles()).toEqual(['owner', 'owner']);
    // Either owner can finish the handover; the retry completes it.
    await changeRole(deps(), alice, room.roomId, bob, 'owner');
    expect(await roles()).toEqual(['admin', 'owner']);
  });

  it('never leaves a room without an owner when a transfer races a demotion of its target', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const room = await createRoom(deps(), alice, 'two requests');
    await addMember(deps(), alice, room.roomId, bob, 'admin');
    // Alice's "make bob a member" has read bob as admin; her transfer to bob lands just before its write.
    const racing: RoomStore = Object.assign(Object.create(store) as RoomStore, {
      setRole: async (roomId: string, userId: string, role: Role, ifRole?: Role | null) => {
        await changeRole(deps(), alice, roomId, bob, 'owner');
        return store.setRole(roomId, userId, role, ifRole);
      },
    });
    const err = await domainError(changeRole(deps({ rooms: racing }), alice, room.roomId, bob, 'member'));
    expect(err.code).toBe('conflict');
    const roles = await Promise.all([alice, bob].map(async (u) => (await store.getMembership(room.roomId, u))?.role));
    expect(roles).toEqual(['admin', 'owner']);
  });

  it('does not let a member leave on the strength of a role that changed meanwhile (a transfer to them)', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const room = await createRoom(deps(), alice, 'race');
    await addMember(deps(), alice, room.roomId, bob);
    // Bob's leave reads him as a member; the transfer lands between that read and the delete.
    const racing: RoomStore = Object.assign(Object.create(store) as RoomStore, {
      removeMember: async (roomId: string, userId: string, ifRole?: Role | null) => {
        await changeRole(deps(), alice, roomId, bob, 'owner');
        return store.removeMember(roomId, userId, ifRole);
      },
    });
    const err = await domainError(removeMember(deps({ rooms: racing }), bob, room.roomId, bob));
    expect(err.code).toBe('conflict');
    expect((await store.getMembership(room.roomId, bob))?.role).toBe('owner');
    expect((await store.getMembership(room.roomId, alice))?.role).toBe('admin');
    // The store's condition on its own: a stored role, and no stored role.
    expect(await store.removeMember(room.roomId, bob, 'member')).toBe(false);
    expect(await store.removeMember(room.roomId, bob, null)).toBe(false);
    expect(await store.removeMember(room.roomId, fresh('nobody'), 'member')).toBe(false);
    expect(await store.removeMember(room.roomId, alice, 'admin')).toBe(true);
  });

  it('works in a room from before roles, and the old owner may then leave', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const roomId = `r_legacy${userCounter}`;
    const at = new Date().toISOString();
    await store.createRoom({ roomId, name: 'old', createdBy: alice, createdAt: at }, { roomId, userId: alice, addedBy: alice, joinedAt: at });
    await store.addMember({ roomId, userId: bob, addedBy: alice, joinedAt: at });
    expect((await domainError(removeMember(deps(), alice, roomId, alice))).code).toBe('conflict');
    expect(await changeRole(deps(), alice, roomId, bob, 'owner')).toMatchObject({ userId: bob, role: 'owner' });
    expect((await store.getMembership(roomId, alice))?.role).toBe('admin');
    await removeMember(deps(), alice, roomId, alice);
    expect(await store.getMembership(roomId, alice)).toBeNull();
  });
});
