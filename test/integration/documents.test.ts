/**
 * Collaborative documents end to end on the local stack: the API Gateway
 * stand-in and the real handlers, dynalite, s3rver, a real redis-server, two
 * relay processes (the production bundle) and real WebSocket clients.
 */
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../shared/dynamo-client.js';
import { DynamoDocumentStore } from '../../functions/adapters/dynamo-documents.js';
import { createS3Client, S3SnapshotObjects } from '../../functions/adapters/s3-snapshots.js';
import { snapshotPrefix } from '../../functions/domain/document-compaction.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { apiClient } from '../helpers/api.js';
import { b64, randomEdit, seeded, unb64 } from '../helpers/documents.js';
import { TestClient } from '../helpers/ws-client.js';

let stack: LocalStack;
let documents: DynamoDocumentStore;
let snapshots: S3SnapshotObjects;
const cleanups: Array<() => unknown> = [];
let counter = 0;
const fresh = (name: string) => `${name}-d${++counter}`;
const api = async (sub: string) => apiClient(stack.apiUrl, await stack.issuer.mint(sub));
const connect = async (relay: number, sub: string) => {
  const client = await TestClient.connect(stack.relayUrls[relay]!, await stack.issuer.mint(sub));
  cleanups.push(() => client.close().catch(() => {}));
  return client;
};
const svParam = (doc: Y.Doc) => Buffer.from(Y.encodeStateVector(doc)).toString('base64url');
const textOfState = (update: string) => {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, unb64(update));
  return doc.getText('text').toString();
};

async function documentOf(owner: string, ...collaborators: string[]): Promise<string> {
  const me = await api(owner);
  const created = await me.post('/documents', { title: `doc of ${owner}` });
  expect(created.status).toBe(201);
  for (const c of collaborators) expect((await me.post(`/documents/${created.body.docId}/collaborators`, { userId: c })).status).toBe(201);
  return created.body.docId;
}

/** Every update entry of the document's history, merged from seq 1 (through the alias route, paging). */
async function replayHistory(user: string, docId: string): Promise<{ text: string; entries: number; bytes: number }> {
  const me = await api(user);
  const doc = new Y.Doc();
  let after = 0;
  let entries = 0;
  let bytes = 0;
  for (;;) {
    const page = await me.get(`/documents/${docId}/updates?afterSeq=${after}&limit=200`);
    expect(page.status).toBe(200);
    for (const m of page.body.messages) {
      entries++;
      if (m.event !== 'document.update') continue;
      const update = unb64(m.data.update);
      bytes += update.length;
      Y.applyUpdate(doc, update);
    }
    if (page.body.nextAfterSeq === null) break;
    after = page.body.nextAfterSeq;
  }
  return { text: doc.getText('text').toString(), entries, bytes };
}

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json' });
  expect(stack.mode).toBe('redis');
  const db = createDynamoClient({ endpoint: stack.dynamoEndpoint });
  const s3 = createS3Client({ endpoint: stack.s3.endpoint });
  cleanups.push(() => db.destroy(), () => s3.destroy());
  documents = new DynamoDocumentStore(db, { documents: stack.tables.documents!, documentSnapshots: stack.tables.documentSnapshots!, memberships: stack.tables.memberships! });
  snapshots = new S3SnapshotObjects(s3, stack.s3.bucket);
});
afterAll(async () => {
  for (const c of cleanups) await c();
  await stack?.stop();
});

describe('documents and collaborators', () => {
  it('creates, lists (paged, apart from rooms) and manages collaborators with the room roles', async () => {
    const [ann, bob, cat] = ['ann', 'bob', 'cat'].map(fresh) as [string, string, string];
    const me = await api(ann);
    const shared = await documentOf(ann, bob);
    const ids = [await documentOf(ann), await documentOf(ann), shared].sort();
    const room = await me.post('/rooms', { name: 'a room' });
    expect(room.status).toBe(201);

    const page1 = await me.get('/documents?limit=2');
    expect(page1.body.documents.map((d: { docId: string }) => d.docId)).toEqual(ids.slice(0, 2));
    const page2 = await me.get(`/documents?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body).toEqual({ documents: [expect.objectContaining({ docId: ids[2], role: 'owner', title: `doc of ${ann}` })], nextCursor: null });
    // Rooms and documents never show in each other's listing.
    expect((await me.get('/rooms')).body.rooms.map((r: { roomId: string }) => r.roomId)).toEqual([room.body.roomId]);
    expect((await (await api(bob)).get('/documents')).body.documents).toEqual([expect.objectContaining({ docId: shared, role: 'member' })]);
    expect((await (await api(bob)).get('/rooms')).body.rooms).toEqual([]);

    const docId = shared;
    expect((await me.post(`/documents/${docId}/collaborators`, { userId: bob })).status).toBe(200); // already
    const refused = await (await api(bob)).post(`/documents/${docId}/collaborators`, { userId: cat });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'forbidden', message: "Only the document's owner and admins can add members" } } });
    const promoted = await me.patch(`/documents/${docId}/collaborators/${bob}`, { role: 'admin' });
    expect(promoted).toMatchObject({ status: 200, body: { docId, userId: bob, role: 'admin' } });
    expect((await (await api(bob)).post(`/documents/${docId}/collaborators`, { userId: cat })).status).toBe(201);
    expect((await me.delete(`/documents/${docId}/collaborators/${cat}`)).status).toBe(204);
    expect((await me.delete(`/documents/${docId}/collaborators/${ann}`)).status).toBe(409); // the owner, not alone
    expect((await me.get(`/documents/d_unknown`)).status).toBe(404);
    expect((await me.post('/documents', { title: '\u202Eevil' })).status).toBe(400);
  });

  it('refuses a malformed update with 400 and changes nothing; non-collaborators can neither read, update nor subscribe', async () => {
    const [ann, eve] = ['ann', 'eve'].map(fresh) as [string, string];
    const docId = await documentOf(ann);
    const me = await api(ann);
    for (const update of [b64(Buffer.from('hello, not yjs')), 'not base64', b64(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))]) {
      const res = await me.post(`/documents/${docId}/updates`, { update, clientUpdateId: 'bad' });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
    }
    expect((await me.post(`/documents/${docId}/updates`, { update: b64(new Uint8Array(100 * 1024)), clientUpdateId: 'big' })).status).toBe(413);
    expect((await me.get(`/documents/${docId}/updates`)).body).toEqual({ messages: [], nextAfterSeq: null });
    expect((await me.get(`/documents/${docId}`)).body).toMatchObject({ seq: 0 });

    const y = new Y.Doc();
    y.getText('text').insert(0, 'secret');
    const mallory = await api(eve);
    expect((await mallory.get(`/documents/${docId}`)).status).toBe(403);
    expect((await mallory.post(`/documents/${docId}/updates`, { update: b64(Y.encodeStateAsUpdate(y)), clientUpdateId: 'x' })).status).toBe(403);
    expect((await mallory.get(`/documents/${docId}/updates`)).status).toBe(403);
    expect((await mallory.get(`/channels/${encodeURIComponent(`document:${docId}`)}/messages`)).status).toBe(403);
    const socket = await connect(0, eve);
    expect(await socket.subscribe(`document:${docId}`)).toMatchObject({ type: 'error', code: 'forbidden' });
    expect((await me.get(`/documents/${docId}`)).body.seq).toBe(0);
  });

  it('cuts a removed collaborator off at once, on any relay', async () => {
    const [ann, bob, cy] = ['ann', 'bob', 'cy'].map(fresh) as [string, string, string];
    const docId = await documentOf(ann, bob, cy);
    const channel = `document:${docId}`;
    const [bobSocket, cySocket] = await Promise.all([connect(0, bob), connect(1, cy)]);
    expect(await bobSocket.subscribe(channel)).toMatchObject({ type: 'subscribed' });
    expect(await cySocket.subscribe(channel)).toMatchObject({ type: 'subscribed' });
    const y = new Y.Doc();
    const post = async (text: string, id: string) => {
      const before = Y.encodeStateVector(y);
      y.getText('text').insert(0, text);
      const res = await (await api(ann)).post(`/documents/${docId}/updates`, { update: b64(Y.encodeStateAsUpdate(y, before)), clientUpdateId: id });
      expect(res.status).toBe(201);
      return res.body.seq as number;
    };
    const first = await post('one ', 'u1');
    await bobSocket.next((f) => f.type === 'message' && f.seq === first);

    expect((await (await api(ann)).delete(`/documents/${docId}/collaborators/${bob}`)).status).toBe(204);
    await bobSocket.next((f) => f.type === 'unsubscribed' && f.channel === channel && f.reason === 'access_revoked');
    const second = await post('two ', 'u2');
    await cySocket.next((f) => f.type === 'message' && f.seq === second); // the sentinel: delivered after the removal
    expect(bobSocket.messages(channel).map((m) => m.seq)).toEqual([first]);
    expect((await (await api(bob)).get(`/documents/${docId}`)).status).toBe(403);
    expect(await bobSocket.subscribe(channel)).toMatchObject({ type: 'error', code: 'forbidden' });
  });
});

describe('editing', () => {
  it('converges: two clients make 220 seeded random edits each, interleaved over HTTP, compacting as they go; a live listener agrees', async () => {
    const [ann, bob, cy] = ['ann', 'bob', 'cy'].map(fresh) as [string, string, string];
    const docId = await documentOf(ann, bob, cy);
    const listener = await connect(1, cy);
    await listener.subscribe(`document:${docId}`);
    const EDITS = 220;
    const markers: string[] = [];
    let posts = 0;
    let writing = true;

    const client = async (user: string, seed: number) => {
      const me = await api(user);
      const y = new Y.Doc();
      const random = seeded(seed);
      for (let i = 0; i < EDITS; i++) {
        const before = Y.encodeStateVector(y);
        const marker = randomEdit(y, random, `${user}-${i}`);
        if (marker) markers.push(marker);
        const res = await me.post(`/documents/${docId}/updates`, { update: b64(Y.encodeStateAsUpdate(y, before)), clientUpdateId: `${user}-${i}` });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        posts++;
        if (random() < 0.2) {
          // Pull what the other client wrote (only what this one lacks), so later edits land among theirs.
          const state = await me.get(`/documents/${docId}?stateVector=${svParam(y)}`);
          Y.applyUpdate(y, unb64(state.body.update));
        }
      }
      return y;
    };
    // A reader polling meanwhile: the seq and the state vector it sees never go back.
    const reader = async () => {
      const me = await api(cy);
      let previous = { seq: 0, sv: new Map<number, number>() };
      let reads = 0;
      while (writing) {
        const res = await me.get(`/documents/${docId}`);
        const sv = Y.decodeStateVector(unb64(res.body.stateVector));
        expect(res.body.seq).toBeGreaterThanOrEqual(previous.seq);
        for (const [clientId, clock] of previous.sv) expect(sv.get(clientId) ?? 0).toBeGreaterThanOrEqual(clock);
        previous = { seq: res.body.seq, sv };
        reads++;
      }
      return reads;
    };
    const started = Date.now();
    const writers = Promise.all([client(ann, 11), client(bob, 22)]).finally(() => (writing = false));
    const [[a, b], reads] = await Promise.all([writers, reader()]);
    const seconds = (Date.now() - started) / 1000;

    // Each pulls the rest, then both hold the same text, and so does the server.
    for (const [user, y] of [[ann, a], [bob, b]] as const) {
      const state = await (await api(user)).get(`/documents/${docId}?stateVector=${svParam(y)}`);
      Y.applyUpdate(y, unb64(state.body.update));
    }
    const text = a.getText('text').toString();
    expect(b.getText('text').toString()).toBe(text);
    const server = await (await api(cy)).get(`/documents/${docId}`);
    expect(server.body.seq).toBe(2 * EDITS);
    expect(textOfState(server.body.update)).toBe(text);
    for (const m of markers) expect(text).toContain(`[${m}]`);
    expect(new Set(markers).size).toBe(markers.length);

    // The live listener got every seq once (concurrent senders publish in the order they finish, not in seq
    // order: the SDK orders them), and applying them in any order gives the same text.
    await listener.waitForMessages(`document:${docId}`, 2 * EDITS, 20_000);
    const live = listener.messages(`document:${docId}`);
    expect(live.map((m) => m.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 2 * EDITS }, (_, i) => i + 1));
    const heard = new Y.Doc();
    for (const m of live) Y.applyUpdate(heard, unb64((m.data as { update: string }).update));
    expect(heard.getText('text').toString()).toBe(text);

    // Compaction ran meanwhile (every 100 seqs; one that meets a seq still being written stops before it), and
    // the history still replays to the same document.
    const pointer = await documents.getSnapshot(docId);
    expect(pointer?.seq).toBeGreaterThan(300);
    const replay = await replayHistory(ann, docId);
    expect(replay).toMatchObject({ text, entries: 2 * EDITS });
    expect(reads).toBeGreaterThan(1);
    console.log(
      `[documents] convergence: ${EDITS} edits per client (${markers.length} inserts in all), final length ${text.length}, equal: yes;`,
      `${posts} update posts in ${seconds.toFixed(1)} s; ${reads} concurrent reads never went back; snapshot at seq ${pointer?.seq} (${pointer?.bytes} B inline) against ${replay.bytes} B of updates in the log`,
    );
  });

  it('answers a client that sends its state vector only what it lacks', async () => {
    const ann = fresh('ann');
    const docId = await documentOf(ann);
    const me = await api(ann);
    const writer = new Y.Doc();
    const write = async (i: number) => {
      const before = Y.encodeStateVector(writer);
      writer.getText('text').insert(writer.getText('text').length, `line ${i}: ${'lorem ipsum '.repeat(20)}\n`);
      expect((await me.post(`/documents/${docId}/updates`, { update: b64(Y.encodeStateAsUpdate(writer, before)), clientUpdateId: `w${i}` })).status).toBe(201);
    };
    for (let i = 0; i < 30; i++) await write(i);
    const reader = new Y.Doc();
    Y.applyUpdate(reader, unb64((await me.get(`/documents/${docId}`)).body.update));
    await write(30);
    const full = (await me.get(`/documents/${docId}`)).body;
    const diff = (await me.get(`/documents/${docId}?stateVector=${svParam(reader)}`)).body;
    expect(diff.seq).toBe(full.seq);
    const [fullBytes, diffBytes] = [unb64(full.update).length, unb64(diff.update).length];
    expect(diffBytes).toBeLessThan(fullBytes / 20);
    Y.applyUpdate(reader, unb64(diff.update));
    expect(reader.getText('text').toString()).toBe(writer.getText('text').toString());
    // What the server lacks of the client: nothing.
    expect(Y.encodeStateAsUpdate(reader, unb64(diff.stateVector)).length).toBeLessThanOrEqual(2);
    console.log(`[documents] state-vector diff: ${diffBytes} B against the full ${fullBytes} B`);
    expect((await me.get(`/documents/${docId}?stateVector=${encodeURIComponent('%%%')}`)).status).toBe(400);
  });

  it('round-trips a snapshot too large for an item through S3', async () => {
    const ann = fresh('ann');
    const docId = await documentOf(ann);
    const me = await api(ann);
    const y = new Y.Doc();
    const random = seeded(99);
    for (let i = 0; i < 6; i++) {
      const before = Y.encodeStateVector(y);
      y.getText('text').insert(y.getText('text').length, Array.from({ length: 80 * 1024 }, () => String.fromCharCode(33 + Math.floor(random() * 90))).join(''));
      expect((await me.post(`/documents/${docId}/updates`, { update: b64(Y.encodeStateAsUpdate(y, before)), clientUpdateId: `big${i}` })).status).toBe(201);
    }
    const pointer = await documents.getSnapshot(docId);
    expect(pointer).toMatchObject({ seq: 6, objectKey: expect.stringContaining(snapshotPrefix(docId)) });
    expect(pointer!.bytes).toBeGreaterThan(350 * 1024);
    expect(await snapshots.list(snapshotPrefix(docId))).toEqual([pointer!.objectKey]);
    const state = await me.get(`/documents/${docId}`);
    expect(state.body.seq).toBe(6);
    expect(textOfState(state.body.update)).toBe(y.getText('text').toString());
  });
});
