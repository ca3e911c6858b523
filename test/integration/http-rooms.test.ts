/**
 * Hostile input and room roles over real HTTP on the local stack (the API
 * Gateway stand-in, the real handlers, dynalite; the in-process broker and
 * relay): bodies that are not UTF-8, room names, `GET /rooms` paging, who may
 * add / remove / change roles, and the cap on rooms per user.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../shared/dynamo-client.js';
import { DynamoRoomStore } from '../../functions/adapters/dynamo-stores.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { TestClient } from '../helpers/ws-client.js';

/** Small, so that the cap test needs a handful of rooms; read once by the handlers. */
const CAP = 8;
let stack: LocalStack;
let userCounter = 0;
/** A fresh user id per use: tests share one stack, and the cap counts every room a user is in. */
const fresh = (name: string) => `${name}-${++userCounter}`;

interface Reply {
  status: number;
  body: any;
}

/** One HTTP request with a raw body (bytes exactly as given), over node:http. */
function send(method: string, path: string, user: string | null, body?: Buffer | string | object): Promise<Reply> {
  return (async () => {
    const token = user === null ? undefined : await stack.issuer.mint(user);
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(
        `${stack.apiUrl}${path}`,
        {
          method,
          headers: {
            ...(token && { authorization: `Bearer ${token}` }),
            'content-type': 'application/json',
            ...(payload && { 'content-length': String(payload.length) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  })();
}

const as = (user: string) => ({
  get: (path: string) => send('GET', path, user),
  post: (path: string, body: Buffer | string | object) => send('POST', path, user, body),
  patch: (path: string, body: object) => send('PATCH', path, user, body),
  delete: (path: string) => send('DELETE', path, user),
});

async function roomOf(owner: string, ...members: string[]): Promise<string> {
  const created = await as(owner).post('/rooms', { name: `room of ${owner}` });
  expect(created.status).toBe(201);
  for (const m of members) expect((await as(owner).post(`/rooms/${created.body.roomId}/members`, { userId: m })).status).toBe(201);
  return created.body.roomId;
}

const roomIdsOf = async (user: string, query = ''): Promise<string[]> => {
  const res = await as(user).get(`/rooms${query}`);
  expect(res.status).toBe(200);
  return res.body.rooms.map((r: { roomId: string }) => r.roomId);
};

beforeAll(async () => {
  process.env.MAX_ROOMS_PER_USER = String(CAP);
  stack = await startLocalStack({ memory: true, keyFile: '.local/test-keys.json' });
});
afterAll(async () => {
  await stack?.stop();
  delete process.env.MAX_ROOMS_PER_USER;
});

describe('request bodies that are not UTF-8', () => {
  it('refuses a message whose bytes are not UTF-8 with 400 invalid_json and stores nothing', async () => {
    const alice = fresh('alice');
    const roomId = await roomOf(alice);
    const bytes = Buffer.concat([Buffer.from('{"text":"hi '), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const res = await as(alice).post(`/rooms/${roomId}/messages`, bytes);
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect(res.body.error.message).toContain('UTF-8');
    // A truncated multi-byte sequence too.
    const truncated = Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xe4, 0xb8]), Buffer.from('"}')]);
    expect((await as(alice).post(`/rooms/${roomId}/messages`, truncated)).status).toBe(400);
    expect((await as(alice).get(`/rooms/${roomId}/messages`)).body.messages).toEqual([]);

    // Valid UTF-8, multi-byte included, still arrives intact.
    const ok = await as(alice).post(`/rooms/${roomId}/messages`, Buffer.from('{"text":"héllo 👋 世界"}', 'utf8'));
    expect(ok.status).toBe(201);
    expect((await as(alice).get(`/rooms/${roomId}/messages`)).body.messages.map((m: { text: string }) => m.text)).toEqual(['héllo 👋 世界']);
  });

  it('refuses a room name in bytes that are not UTF-8, and an escaped unpaired surrogate, creating nothing', async () => {
    const alice = fresh('alice');
    const bytes = Buffer.concat([Buffer.from('{"name":"lobby'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    expect(await as(alice).post('/rooms', bytes)).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect(await as(alice).post('/rooms', String.raw`{"name":"lobby \ud800"}`)).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect(await roomIdsOf(alice)).toEqual([]);
  });
});

describe('room names', () => {
  it('stores names NFC-normalized and trimmed', async () => {
    const alice = fresh('alice');
    const res = await as(alice).post('/rooms', { name: '  Cafe\u0301 \u{1F468}\u200D\u{1F469}\u200D\u{1F467}  ' });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('Caf\u00e9 \u{1F468}\u200D\u{1F469}\u200D\u{1F467}');
    expect((await as(alice).get('/rooms')).body.rooms[0].name).toBe(res.body.name);
  });

  it.each([
    ['a line feed', 'general\nchat', /control character or line break \(U\+000A\)/],
    ['a C1 control', 'gen\u0085', /control character or line break \(U\+0085\)/],
    ['a right-to-left override', 'invoice\u202Efdp.exe', /bidirectional formatting character \(U\+202E\)/],
    ['an isolate', 'a\u2067b', /bidirectional formatting character \(U\+2067\)/],
    ['a right-to-left mark', 'a\u200Fb', /bidirectional formatting character \(U\+200F\)/],
    ['only spaces', '    ', /empty or has only white space or invisible characters/],
    ['only zero-width characters', '\u200B\u2060\uFEFF', /empty or has only white space or invisible characters/],
    ['only Hangul fillers', '\u3164\u115F\u1160', /empty or has only white space or invisible characters/],
    ['101 characters', 'x'.repeat(101), /longer than 100/],
  ])('refuses a name with %s: 400 bad_request saying what is wrong, nothing created', async (_label, name, message) => {
    const alice = fresh('alice');
    const res = await as(alice).post('/rooms', { name });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect(res.body.error.message).toMatch(/^body\.name: the room name /);
    expect(res.body.error.message).toMatch(message);
    expect(await roomIdsOf(alice)).toEqual([]);
  });
});

describe('GET /rooms', () => {
  it('pages through the caller’s rooms with limit and an opaque cursor, null at the end', async () => {
    const dora = fresh('dora');
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await roomOf(dora));
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page: Reply = await as(dora).get(`/rooms${query}`);
      expect(page.status).toBe(200);
      sizes.push(page.body.rooms.length);
      seen.push(...page.body.rooms.map((r: { roomId: string; role: string }) => (expect(r.role).toBe('owner'), r.roomId)));
      cursor = page.body.nextCursor;
      if (cursor !== null) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    } while (cursor !== null);
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen).toEqual([...made].sort());
    // Exactly a page's worth: the last page still says it is the last.
    expect((await as(dora).get('/rooms?limit=7')).body).toMatchObject({ nextCursor: null });
    expect((await as(dora).get('/rooms')).body.rooms).toHaveLength(7);
  });

  it('refuses a bad limit, and a malformed or foreign cursor, with 400', async () => {
    const erin = fresh('erin');
    const frank = fresh('frank');
    for (let i = 0; i < 2; i++) await roomOf(erin);
    await roomOf(frank);
    const erinsCursor = (await as(erin).get('/rooms?limit=1')).body.nextCursor as string;
    expect(erinsCursor).toEqual(expect.any(String));
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'limit=1.5']) {
      expect(await as(erin).get(`/rooms?${query}`)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    }
    const forged = Buffer.from(JSON.stringify({ u: erin, r: 'not a room id!' })).toString('base64url');
    for (const cursor of ['!!!', 'x'.repeat(500), Buffer.from('not json').toString('base64url'), forged]) {
      const res = await as(erin).get(`/rooms?cursor=${encodeURIComponent(cursor)}`);
      expect(res).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
      expect(res.body.error.message).toContain('query.cursor');
    }
    // Erin's cursor is no good to Frank.
    expect(await as(frank).get(`/rooms?cursor=${erinsCursor}`)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect((await as(erin).get(`/rooms?cursor=${erinsCursor}`)).body.rooms).toHaveLength(1);
  });
});

describe('roles', () => {
  it('makes the creator the owner; a plain member cannot add anyone', async () => {
    const [alice, bob, carol] = [fresh('alice'), fresh('bob'), fresh('carol')];
    const roomId = await roomOf(alice, bob);
    expect((await as(alice).get('/rooms')).body.rooms[0]).toMatchObject({ roomId, role: 'owner' });
    expect((await as(bob).get('/rooms')).body.rooms[0]).toMatchObject({ roomId, role: 'member' });
    const res = await as(bob).post(`/rooms/${roomId}/members`, { userId: carol });
    expect(res).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(await roomIdsOf(carol)).toEqual([]);
  });

  it('does not let a plain member re-add a removed member', async () => {
    const [alice, bob, mallory] = [fresh('alice'), fresh('bob'), fresh('mallory')];
    const roomId = await roomOf(alice, bob, mallory);
    expect((await as(alice).delete(`/rooms/${roomId}/members/${mallory}`)).status).toBe(204);
    expect((await as(bob).post(`/rooms/${roomId}/members`, { userId: mallory })).status).toBe(403);
    expect((await as(mallory).get(`/rooms/${roomId}/messages`)).status).toBe(403);
    expect(await roomIdsOf(mallory)).toEqual([]);
  });

  it('lets an admin add members but not admins; only the owner adds an admin; re-adding changes nothing', async () => {
    const [alice, ann, bob, carol] = [fresh('alice'), fresh('ann'), fresh('bob'), fresh('carol')];
    const roomId = await roomOf(alice);
    const asAdmin = await as(alice).post(`/rooms/${roomId}/members`, { userId: ann, role: 'admin' });
    expect(asAdmin).toMatchObject({ status: 201, body: { roomId, userId: ann, addedBy: alice, role: 'admin' } });
    expect(await as(ann).post(`/rooms/${roomId}/members`, { userId: bob })).toMatchObject({ status: 201, body: { role: 'member', addedBy: ann } });
    expect(await as(ann).post(`/rooms/${roomId}/members`, { userId: carol, role: 'admin' })).toMatchObject({ status: 403 });
    expect(await as(alice).post(`/rooms/${roomId}/members`, { userId: carol, role: 'owner' })).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect(await roomIdsOf(carol)).toEqual([]);
    // Already a member: 200 with the existing membership, role unchanged even when asked for admin.
    const again = await as(alice).post(`/rooms/${roomId}/members`, { userId: bob, role: 'admin' });
    expect(again).toMatchObject({ status: 200, body: { userId: bob, role: 'member', addedBy: ann } });
  });

  it('lets an admin remove a member (revoking live delivery) but not the owner or another admin', async () => {
    const [alice, ann, amy, bob] = [fresh('alice'), fresh('ann'), fresh('amy'), fresh('bob')];
    const roomId = await roomOf(alice, bob);
    for (const admin of [ann, amy]) expect((await as(alice).post(`/rooms/${roomId}/members`, { userId: admin, role: 'admin' })).status).toBe(201);
    const bobSocket = await TestClient.connect(stack.relayUrls[0]!, await stack.issuer.mint(bob));
    try {
      expect((await bobSocket.subscribe(`room:${roomId}`)).type).toBe('subscribed');
      expect(await as(ann).delete(`/rooms/${roomId}/members/${alice}`)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
      expect(await as(ann).delete(`/rooms/${roomId}/members/${amy}`)).toMatchObject({ status: 403 });
      expect((await as(ann).delete(`/rooms/${roomId}/members/${bob}`)).status).toBe(204);
      expect(await bobSocket.next((f) => f.type === 'unsubscribed')).toMatchObject({ channel: `room:${roomId}`, reason: 'access_revoked' });
    } finally {
      await bobSocket.close();
    }
    expect(await roomIdsOf(alice)).toEqual([roomId]);
    expect(await roomIdsOf(amy)).toEqual([roomId]);
    expect(await roomIdsOf(bob)).toEqual([]);
    // The owner removes anyone, admins included; members remove only themselves.
    expect((await as(alice).delete(`/rooms/${roomId}/members/${amy}`)).status).toBe(204);
    const carol = fresh('carol');
    await as(alice).post(`/rooms/${roomId}/members`, { userId: carol });
    expect((await as(carol).delete(`/rooms/${roomId}/members/${ann}`)).status).toBe(403);
    expect((await as(carol).delete(`/rooms/${roomId}/members/${carol}`)).status).toBe(204);
  });

  it('does not let the owner leave while others remain (409), and lets them leave once alone', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const roomId = await roomOf(alice, bob);
    const res = await as(alice).delete(`/rooms/${roomId}/members/${alice}`);
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(res.body.error.message).toContain('transfer ownership first');
    expect(await roomIdsOf(alice)).toEqual([roomId]);
    expect((await as(alice).delete(`/rooms/${roomId}/members/${bob}`)).status).toBe(204);
    expect((await as(alice).delete(`/rooms/${roomId}/members/${alice}`)).status).toBe(204);
    expect(await roomIdsOf(alice)).toEqual([]);
  });

  it('transfers ownership: the new owner takes over and the old owner becomes an admin', async () => {
    const [alice, bob, carol] = [fresh('alice'), fresh('bob'), fresh('carol')];
    const roomId = await roomOf(alice, bob, carol);
    const transfer = await as(alice).patch(`/rooms/${roomId}/members/${bob}`, { role: 'owner' });
    expect(transfer).toMatchObject({ status: 200, body: { roomId, userId: bob, role: 'owner' } });
    expect((await as(alice).get('/rooms')).body.rooms[0]).toMatchObject({ roomId, role: 'admin' });
    expect((await as(bob).get('/rooms')).body.rooms[0]).toMatchObject({ roomId, role: 'owner' });
    // Alice is now an admin: she may no longer change roles or remove an admin, and may leave.
    expect(await as(alice).patch(`/rooms/${roomId}/members/${carol}`, { role: 'admin' })).toMatchObject({ status: 403 });
    expect(await as(bob).delete(`/rooms/${roomId}/members/${bob}`)).toMatchObject({ status: 409 });
    expect((await as(alice).delete(`/rooms/${roomId}/members/${alice}`)).status).toBe(204);
  });

  it('lets only the owner promote and demote; the owner cannot step down without a transfer', async () => {
    const [alice, ann, bob] = [fresh('alice'), fresh('ann'), fresh('bob')];
    const roomId = await roomOf(alice, ann, bob);
    expect(await as(alice).patch(`/rooms/${roomId}/members/${ann}`, { role: 'admin' })).toMatchObject({ status: 200, body: { role: 'admin' } });
    expect(await as(ann).patch(`/rooms/${roomId}/members/${bob}`, { role: 'admin' })).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(await as(ann).patch(`/rooms/${roomId}/members/${ann}`, { role: 'owner' })).toMatchObject({ status: 403 });
    expect(await as(bob).patch(`/rooms/${roomId}/members/${bob}`, { role: 'admin' })).toMatchObject({ status: 403 });
    expect(await as(alice).patch(`/rooms/${roomId}/members/${alice}`, { role: 'member' })).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(await as(alice).patch(`/rooms/${roomId}/members/${ann}`, { role: 'member' })).toMatchObject({ status: 200, body: { role: 'member' } });
    expect(await as(alice).patch(`/rooms/${roomId}/members/${fresh('nobody')}`, { role: 'admin' })).toMatchObject({ status: 404 });
    expect(await as(alice).patch(`/rooms/${roomId}/members/${bob}`, { role: 'king' })).toMatchObject({ status: 400 });
    expect(await as(fresh('mallory')).patch(`/rooms/${roomId}/members/${bob}`, { role: 'owner' })).toMatchObject({ status: 403 });
    // Ann, demoted, can no longer add anyone.
    expect((await as(ann).post(`/rooms/${roomId}/members`, { userId: fresh('dan') })).status).toBe(403);
  });

  it('reads memberships written before roles: the creator as owner, the others as members', async () => {
    const [alice, bob, carol, dan] = [fresh('alice'), fresh('bob'), fresh('carol'), fresh('dan')];
    const db = createDynamoClient({ endpoint: stack.dynamoEndpoint });
    const store = new DynamoRoomStore(db, { rooms: stack.tables.rooms!, memberships: stack.tables.memberships! });
    const roomId = 'r_legacyRoomHTTP01';
    const at = '2025-01-01T00:00:00.000Z';
    try {
      // Written as the v1 code did: no role attribute.
      await store.createRoom({ roomId, name: 'old room', createdBy: alice, createdAt: at }, { roomId, userId: alice, addedBy: alice, joinedAt: at });
      expect(await store.addMember({ roomId, userId: bob, addedBy: alice, joinedAt: at })).toBe(true);
      expect(await store.getMembership(roomId, bob)).not.toHaveProperty('role');
    } finally {
      db.destroy();
    }
    expect((await as(alice).get('/rooms')).body.rooms).toMatchObject([{ roomId, role: 'owner' }]);
    expect((await as(bob).get('/rooms')).body.rooms).toMatchObject([{ roomId, role: 'member' }]);
    expect((await as(bob).post(`/rooms/${roomId}/members`, { userId: carol })).status).toBe(403);
    expect(await as(alice).post(`/rooms/${roomId}/members`, { userId: carol, role: 'admin' })).toMatchObject({ status: 201, body: { role: 'admin' } });
    expect(await as(alice).post(`/rooms/${roomId}/members`, { userId: bob })).toMatchObject({ status: 200, body: { role: 'member' } });
    expect((await as(alice).delete(`/rooms/${roomId}/members/${alice}`)).status).toBe(409);
    expect((await as(carol).post(`/rooms/${roomId}/members`, { userId: dan })).status).toBe(201);
    // The legacy owner hands over; from then on the stored roles decide.
    expect((await as(alice).patch(`/rooms/${roomId}/members/${bob}`, { role: 'owner' })).status).toBe(200);
    expect((await as(alice).get('/rooms')).body.rooms).toMatchObject([{ roomId, role: 'admin' }]);
    expect((await as(bob).delete(`/rooms/${roomId}/members/${dan}`)).status).toBe(204);
  });
});

describe('rooms per user', () => {
  it(`caps the rooms one user can be in at MAX_ROOMS_PER_USER (${CAP} here), for adds and creates alike`, async () => {
    const [target, alice] = [fresh('target'), fresh('alice')];
    const owned: string[] = [];
    for (let i = 0; i < CAP - 1; i++) owned.push(await roomOf(target));
    const other = await roomOf(alice);
    const last = await roomOf(fresh('bob'), target); // the CAP-th room, added by someone else
    expect(await roomIdsOf(target, '?limit=100')).toHaveLength(CAP);

    const added = await as(alice).post(`/rooms/${other}/members`, { userId: target });
    expect(added).toMatchObject({ status: 409, body: { error: { code: 'limit_exceeded' } } });
    expect(added.body.error.message).toContain(`${CAP} rooms`);
    const created = await as(target).post('/rooms', { name: 'one too many' });
    expect(created).toMatchObject({ status: 409, body: { error: { code: 'limit_exceeded' } } });
    expect(await roomIdsOf(target, '?limit=100')).toHaveLength(CAP);
    // Re-adding to a room the user is already in is not an add: still 200.
    expect((await as(target).post(`/rooms/${owned[0]}/members`, { userId: target })).status).toBe(200);

    // Leaving a room makes space again.
    expect((await as(target).delete(`/rooms/${last}/members/${target}`)).status).toBe(204);
    expect((await as(alice).post(`/rooms/${other}/members`, { userId: target })).status).toBe(201);
    expect(await roomIdsOf(target, '?limit=100')).toContain(other);
  });
});
