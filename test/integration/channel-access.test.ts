/**
 * The channel access registry (shared/channel-access.ts) over real DynamoDB
 * (dynalite), from both sides that use it: the relay (a memberships reader,
 * channel names) and the functions (the room store, parsed channels, domain
 * errors). Both must decide alike for every channel kind; only the functions
 * can tell an unknown room from one the caller is not in.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRoomStore } from '../../functions/adapters/dynamo-stores.js';
import { requireChannelAccess } from '../../functions/domain/channel-access.js';
import { DomainError } from '../../functions/domain/errors.js';
import { addMember, createRoom, removeMember } from '../../functions/domain/rooms.js';
import { startDynamo, type LocalDynamo } from '../../local/dynamo.js';
import { documentChannel, parseChannel, roomChannel, userChannel, type ChannelKind } from '../../protocol/index.js';
import { channelAccess, channelPolicies, type AccessDecision, type ChannelAccess } from '../../shared/channel-access.js';
import { createDynamoClient } from '../../shared/dynamo-client.js';
import { DynamoMembershipReader } from '../../shared/membership-reader.js';

let dynamo: LocalDynamo;
let db: DynamoDBClient;
let rooms: DynamoRoomStore;
/** The relay's view: channel names checked with a memberships reader only. */
let relay: ChannelAccess;
let roomId: string;

const quiet = { publish: async () => {} };

/** The functions' view, as a decision: what requireChannelAccess throws, or allowed. */
async function functionsDecide(userId: string, channel: string): Promise<AccessDecision> {
  try {
    await requireChannelAccess(rooms, userId, parseChannel(channel)!);
    return { allowed: true };
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return { allowed: false, code: err.code as Extract<AccessDecision, { allowed: false }>['code'], message: err.message };
  }
}

beforeAll(async () => {
  dynamo = await startDynamo({ prefix: 'access' });
  db = createDynamoClient({ endpoint: dynamo.endpoint });
  rooms = new DynamoRoomStore(db, dynamo.tables);
  relay = channelAccess({ memberships: new DynamoMembershipReader(db, dynamo.tables.memberships) });
  roomId = (await createRoom({ rooms }, 'alice', 'access')).roomId;
  await addMember({ rooms }, 'alice', roomId, 'bob');
});
afterAll(async () => {
  db?.destroy();
  await dynamo?.stop();
});

describe('channel access registry', () => {
  it('has one policy per channel kind the protocol parses', () => {
    const kinds = [roomChannel('r1'), userChannel('u1'), documentChannel('d1')].map((c) => parseChannel(c)!.kind);
    expect(Object.keys(channelPolicies).sort()).toEqual([...new Set<ChannelKind>(kinds)].sort());
  });

  it('relay and functions decide alike: members, own user channel, documents (none yet)', async () => {
    const cases: Array<[user: string, channel: string, allowed: boolean]> = [
      ['alice', roomChannel(roomId), true],
      ['bob', roomChannel(roomId), true],
      ['mallory', roomChannel(roomId), false],
      ['bob', userChannel('bob'), true],
      ['bob', userChannel('alice'), false],
      ['alice', documentChannel('d_1'), false],
    ];
    for (const [user, channel, allowed] of cases) {
      const [byRelay, byFunctions] = await Promise.all([relay.check(user, channel), functionsDecide(user, channel)]);
      expect({ user, channel, allowed: byRelay.allowed }).toEqual({ user, channel, allowed });
      expect(byFunctions).toEqual(byRelay);
    }
    expect(await relay.check('mallory', roomChannel(roomId))).toEqual({
      allowed: false,
      code: 'forbidden',
      message: `You are not a member of room ${roomId}`,
    });
  });

  it('an unknown room: not_found from the functions (they read rooms), forbidden from the relay (it reads memberships only)', async () => {
    const unknown = roomChannel('r_does_not_exist');
    expect(await functionsDecide('alice', unknown)).toMatchObject({ allowed: false, code: 'not_found', message: 'Room r_does_not_exist does not exist' });
    expect(await relay.check('alice', unknown)).toMatchObject({ allowed: false, code: 'forbidden' });
  });

  it('a removed member is refused by both at once (consistent reads)', async () => {
    await addMember({ rooms }, 'alice', roomId, 'carol');
    expect((await relay.check('carol', roomChannel(roomId))).allowed).toBe(true);
    await removeMember({ rooms, publisher: quiet }, 'alice', roomId, 'carol');
    expect((await relay.check('carol', roomChannel(roomId))).allowed).toBe(false);
    expect((await functionsDecide('carol', roomChannel(roomId))).allowed).toBe(false);
  });

  it('the relay refuses a malformed or unknown channel name as invalid_channel', async () => {
    for (const name of ['weird:thing', 'room:', 'room:has space', `user:${'x'.repeat(200)}`]) {
      expect(await relay.check('alice', name)).toMatchObject({ allowed: false, code: 'invalid_channel' });
    }
  });
});
