/**
 * The document binding on the real stack (redis-server, dynalite, s3rver, the
 * API with the real handlers, two relay processes): SDK clients on different
 * relays edit one document at once and converge; typing costs about one post
 * a second; a client that edits offline converges when it returns; a removed
 * collaborator's handle stops at once; a change too large to save fails the
 * handle instead of passing for saved; a restored doc's offline inserts and
 * deletions reach the API; awareness reaches the others and expires. Figures are printed as `DOCUMENT_CASE {json}` lines.
 */
import * as Y from 'yjs';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { MAX_UPDATE_BYTES, NOT_SAVED, openDocument } from '../../client/src/documents.js';
import { randomEdit, seeded } from '../helpers/documents.js';
import { startSilenceableProxy } from '../helpers/sdk-harness.js';
import { countingFetch, createDocument, newClient, openAs, sleep, waitFor, type DocClient } from '../helpers/sdk-documents.js';
import { TestClient } from '../helpers/ws-client.js';

let stack: LocalStack;
const cleanups: Array<() => unknown> = [];
let counter = 0;
const fresh = (name: string) => `${name}-e${++counter}`;
const later = (c: DocClient) => cleanups.push(() => c.handle.close(1000), () => c.ts.close());

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json' });
  expect(stack.mode).toBe('redis');
  expect(stack.relayUrls.length).toBeGreaterThanOrEqual(2);
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await stack?.stop();
});

/** `count` seeded random edits, a few ms apart; returns the markers inserted. */
async function edit(client: DocClient, seed: number, count: number, prefix: string, pauseMs = 12): Promise<{ inserted: string[]; deletes: number }> {
  const random = seeded(seed);
  const inserted: string[] = [];
  let deletes = 0;
  for (let i = 0; i < count; i++) {
    const marker = randomEdit(client.handle.doc, random, `${prefix}${i}`);
    if (marker) inserted.push(marker);
    else deletes++;
    await sleep(Math.floor(random() * pauseMs * 2));
  }
  return { inserted, deletes };
}

it('two clients on different relays make 250 concurrent random edits each and converge to the same text with every insert', async () => {
  const [ann, bob] = [fresh('ann'), fresh('bob')];
  const docId = await createDocument(stack, ann, [bob]);
  const a = await openAs(stack, ann, docId, { client: { relayUrls: [stack.relayUrls[0]!] } });
  const b = await openAs(stack, bob, docId, { client: { relayUrls: [stack.relayUrls[1]!] }, doc: { debounceMs: 50, maxWaitMs: 300 } });
  later(a);
  later(b);

  const [ea, eb] = await Promise.all([edit(a, 1, 250, 'a'), edit(b, 2, 250, 'b')]);
  await Promise.all([a.handle.flush(), b.handle.flush()]);
  await waitFor(() => a.text() === b.text(), 20_000, 'the texts to converge');
  // A third reader from the API alone: the stored state is the same text.
  const reader = newClient(stack, ann);
  cleanups.push(() => reader.close());
  const state = await reader.documents.getState(docId);
  const stored = new Y.Doc();
  Y.applyUpdate(stored, Buffer.from(state.update, 'base64'));

  const text = a.text();
  const missing = [...ea.inserted, ...eb.inserted].filter((m) => !text.includes(`[${m}]`));
  console.log(
    `DOCUMENT_CASE ${JSON.stringify({
      case: 'convergence',
      editsPerClient: { [ann]: { inserts: ea.inserted.length, deletes: ea.deletes }, [bob]: { inserts: eb.inserted.length, deletes: eb.deletes } },
      posts: { [ann]: a.handle.posts, [bob]: b.handle.posts },
      finalLength: text.length,
      equal: a.text() === b.text() && stored.getText('text').toString() === text ? 'yes' : 'no',
      missingInserts: missing.length,
      seq: state.seq,
    })}`,
  );
  expect(ea.inserted.length + ea.deletes).toBe(250);
  expect(eb.inserted.length + eb.deletes).toBe(250);
  expect(ea.deletes).toBeGreaterThan(20);
  expect(missing).toEqual([]);
  expect(b.text()).toBe(text);
  expect(stored.getText('text').toString()).toBe(text);
  // Batched: far fewer posts than edits, yet several each (the edits really interleaved on the server).
  expect(a.handle.posts).toBeGreaterThan(1);
  expect(a.handle.posts).toBeLessThan(60);
  expect(a.handle.unsaved + b.handle.unsaved).toBe(0);
  expect(a.errors.filter((e) => e.kind !== 'save')).toEqual([]);
  expect(b.errors.filter((e) => e.kind !== 'save')).toEqual([]);
}, 120_000);

it('typing 10 keystrokes a second for 10 s costs about one update post a second', async () => {
  const [ann, bob] = [fresh('ann'), fresh('bob')];
  const docId = await createDocument(stack, ann, [bob]);
  const counting = countingFetch();
  const typist = await openAs(stack, ann, docId, { client: { fetch: counting.fetch, relayUrls: [stack.relayUrls[0]!] } });
  const watcher = await openAs(stack, bob, docId, { client: { relayUrls: [stack.relayUrls[1]!] } });
  later(typist);
  later(watcher);

  const KEYSTROKES = 100;
  const text = typist.handle.doc.getText('text');
  const started = Date.now();
  for (let i = 0; i < KEYSTROKES; i++) {
    const due = started + i * 100;
    if (due > Date.now()) await sleep(due - Date.now());
    text.insert(text.length, String.fromCharCode(97 + (i % 26)));
  }
  const typedMs = Date.now() - started;
  await typist.handle.flush();
  const posts = counting.posts.length;
  const postsPerSecond = posts / ((counting.posts.at(-1)! - started) / 1000);
  await waitFor(() => watcher.text() === typist.text(), 10_000, 'the watcher to see the typing');
  console.log(`DOCUMENT_CASE ${JSON.stringify({ case: 'typing', keystrokes: KEYSTROKES, typedMs, updatePosts: posts, postsPerSecond: Number(postsPerSecond.toFixed(2)), debounceMs: 200, maxWaitMs: 1000 })}`);
  expect(watcher.text()).toHaveLength(KEYSTROKES);
  // maxWaitMs 1000 while typing: 10 s of typing is about 10 posts (plus the last one), never one per keystroke.
  expect(posts).toBeGreaterThanOrEqual(8);
  expect(posts).toBeLessThanOrEqual(14);
}, 60_000);

it('a client that edits offline (socket and HTTP cut) keeps its edits and converges when it comes back', async () => {
  const [ann, bob] = [fresh('ann'), fresh('bob')];
  const docId = await createDocument(stack, ann, [bob]);
  const proxy = await startSilenceableProxy(Number(new URL(stack.relayUrls[1]!).port));
  cleanups.push(() => proxy.close());
  const link = countingFetch();
  let offline = false;
  const a = await openAs(stack, ann, docId, { client: { relayUrls: [stack.relayUrls[0]!] } });
  const b = await openAs(stack, bob, docId, {
    client: {
      relayUrls: [proxy.wsUrl],
      fetch: link.fetch,
      getToken: () => (offline ? Promise.reject(new Error('offline')) : stack.issuer.mint(bob)),
      backoff: { minDelayMs: 200, maxDelayMs: 2000 },
      heartbeat: { intervalMs: 1000, timeoutMs: 1000 },
    },
  });
  later(a);
  later(b);
  await Promise.all([edit(a, 3, 30, 'a'), edit(b, 4, 30, 'b')]);
  await Promise.all([a.handle.flush(), b.handle.flush()]);
  await waitFor(() => a.text() === b.text(), 10_000, 'the texts to converge before the cut');

  // The cut: the socket goes silent (no close), every HTTP call fails.
  offline = link.offline = true;
  proxy.silence();
  const [ea, eb] = await Promise.all([edit(a, 5, 60, 'A', 20), edit(b, 6, 60, 'B', 20)]);
  await waitFor(() => b.handle.state === 'offline', 10_000, "bob's handle to notice it is offline");
  const unsavedWhileOffline = b.handle.unsaved;
  const bobWhileOffline = b.text();
  expect(unsavedWhileOffline).toBeGreaterThan(0);
  // Nothing of ann's offline-time edits reached bob, nor bob's reached ann.
  expect(ea.inserted.some((m) => bobWhileOffline.includes(`[${m}]`))).toBe(false);
  await a.handle.flush();
  expect(eb.inserted.some((m) => a.text().includes(`[${m}]`))).toBe(false);

  const cameBack = Date.now();
  offline = link.offline = false;
  proxy.resume();
  b.ts.check(); // what the browser's `online` event does
  await b.handle.whenLive();
  await b.handle.flush();
  await waitFor(() => a.text() === b.text(), 20_000, 'the texts to converge after the return');
  const text = a.text();
  const missing = [...ea.inserted, ...eb.inserted].filter((m) => !text.includes(`[${m}]`));
  console.log(
    `DOCUMENT_CASE ${JSON.stringify({
      case: 'offline',
      offlineEdits: { [ann]: ea.inserted.length + ea.deletes, [bob]: eb.inserted.length + eb.deletes },
      unsavedWhileOffline,
      convergeMs: Date.now() - cameBack,
      finalLength: text.length,
      equal: a.text() === b.text() ? 'yes' : 'no',
      states: b.states.join('>'),
    })}`,
  );
  expect(missing).toEqual([]);
  expect(b.handle.unsaved).toBe(0);
  expect(b.states).toContain('offline');
  expect(b.states.at(-1)).toBe('live');
}, 120_000);

it("a removed collaborator's handle stops receiving at once and says so", async () => {
  const [ann, bob] = [fresh('ann'), fresh('bob')];
  const docId = await createDocument(stack, ann, [bob]);
  const a = await openAs(stack, ann, docId, { client: { relayUrls: [stack.relayUrls[0]!] } });
  const b = await openAs(stack, bob, docId, { client: { relayUrls: [stack.relayUrls[1]!] } });
  later(a);
  later(b);
  a.handle.doc.getText('text').insert(0, 'before');
  await a.handle.flush();
  await waitFor(() => b.text() === 'before', 5000, 'bob to see the first edit');

  const removedAt = Date.now();
  await a.ts.documents.removeCollaborator(docId, bob);
  await waitFor(() => b.handle.state === 'failed', 3000, "bob's handle to fail");
  const stoppedMs = Date.now() - removedAt;
  a.handle.doc.getText('text').insert(6, ' after');
  await a.handle.flush();
  await sleep(500);
  console.log(`DOCUMENT_CASE ${JSON.stringify({ case: 'revoked', stoppedMs, states: b.states.join('>') })}`);
  expect(b.text()).toBe('before');
  expect(b.errors.some((e) => e.kind === 'access' && /access_revoked/.test(e.message))).toBe(true);
  // Bob's edits from now on go nowhere (the handle stopped posting).
  b.handle.doc.getText('text').insert(0, 'x');
  await expect(b.handle.flush()).rejects.toMatchObject({ code: 'forbidden' });
  // Opening it again is refused.
  const again = openDocument(b.ts, docId);
  await expect(again.whenLive()).rejects.toMatchObject({ code: 'forbidden' });
  expect(again.state).toBe('failed');
}, 30_000);

it('a change too large to save fails the handle: flush rejects, nothing claims it saved, and later edits are not posted', async () => {
  const [ann, bob] = [fresh('ann'), fresh('bob')];
  const docId = await createDocument(stack, ann, [bob]);
  const a = await openAs(stack, ann, docId, { client: { relayUrls: [stack.relayUrls[0]!] } });
  const b = await openAs(stack, bob, docId, { client: { relayUrls: [stack.relayUrls[1]!] } });
  later(a);
  later(b);
  const saved: number[] = [];
  a.handle.on('saved', ({ unsaved }) => saved.push(unsaved));
  const text = a.handle.doc.getText('text');
  text.insert(0, 'ok');
  await a.handle.flush();
  expect(saved).toEqual([0]);
  await waitFor(() => b.text() === 'ok', 5000, 'bob to see the first edit');

  text.insert(2, 'x'.repeat(MAX_UPDATE_BYTES + 1000)); // one transaction over the API's limit
  await expect(a.handle.flush()).rejects.toMatchObject({ code: NOT_SAVED });
  expect(a.handle.state).toBe('failed');
  expect(a.errors.some((e) => e.kind === 'save' && e.context?.fatal === true && /could not be saved/.test(e.message))).toBe(true);
  text.insert(0, 'later');
  await expect(a.handle.flush()).rejects.toMatchObject({ code: NOT_SAVED });
  expect(a.handle.unsaved).toBeGreaterThan(0);
  expect(saved).toEqual([0]);
  await sleep(500);
  expect(b.text()).toBe('ok');
  const state = await b.ts.documents.getState(docId);
  const stored = new Y.Doc();
  Y.applyUpdate(stored, Buffer.from(state.update, 'base64'));
  expect(stored.getText('text').toString()).toBe('ok');
}, 30_000);

it('a doc of your own (restored with offline inserts and deletions) is merged both ways, even when typed into while loading', async () => {
  const ann = fresh('ann');
  /** A document holding `initial`, and a copy of it as a restored doc would hold it. */
  async function seededDocument(initial: string): Promise<{ docId: string; copy: Y.Doc }> {
    const docId = await createDocument(stack, ann, []);
    const seed = await openAs(stack, ann, docId);
    seed.handle.doc.getText('text').insert(0, initial);
    await seed.handle.flush();
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(seed.handle.doc));
    await seed.handle.close();
    seed.ts.close();
    return { docId, copy };
  }
  async function storedText(docId: string): Promise<string> {
    const reader = newClient(stack, ann);
    try {
      const state = await reader.documents.getState(docId);
      const doc = new Y.Doc();
      Y.applyUpdate(doc, Buffer.from(state.update, 'base64'));
      return doc.getText('text').toString();
    } finally {
      reader.close();
    }
  }

  // Only a deletion the API lacks: the state vectors are equal, the delete sets are not.
  const onlyDeleted = await seededDocument('hello world');
  onlyDeleted.copy.getText('text').delete(5, 6);
  const first = await openAs(stack, ann, onlyDeleted.docId, { doc: { doc: onlyDeleted.copy } });
  later(first);
  await first.handle.flush();
  expect(await storedText(onlyDeleted.docId)).toBe('hello');

  // An insert and a deletion, and typing before the state arrives (changes pending while it loads).
  const mixed = await seededDocument('hello world');
  mixed.copy.getText('text').delete(0, 6);
  mixed.copy.getText('text').insert(0, '>> ');
  const ts = newClient(stack, ann);
  const handle = openDocument(ts, mixed.docId, { doc: mixed.copy });
  cleanups.push(() => handle.close(1000), () => ts.close());
  handle.doc.getText('text').insert(0, 'T');
  await handle.whenLive();
  await handle.flush();
  expect(handle.doc.getText('text').toString()).toBe('T>> world');
  expect(await storedText(mixed.docId)).toBe('T>> world');
}, 30_000);

it('awareness reaches the other client across relays, and a silent client expires after the timeout', async () => {
  const [ann, bob, cat] = [fresh('ann'), fresh('bob'), fresh('cat')];
  const docId = await createDocument(stack, ann, [bob, cat]);
  const TIMEOUT_MS = 3000;
  const a = await openAs(stack, ann, docId, { client: { relayUrls: [stack.relayUrls[0]!] }, doc: { awarenessTimeoutMs: TIMEOUT_MS } });
  const b = await openAs(stack, bob, docId, { client: { relayUrls: [stack.relayUrls[1]!] }, doc: { awarenessTimeoutMs: TIMEOUT_MS } });
  later(a);
  later(b);
  b.handle.awareness!.setLocalStateField('user', { name: 'Bob', color: '#1e88e5' });
  b.handle.awareness!.setLocalStateField('cursor', { anchor: 3, head: 5 });
  const bobId = b.handle.doc.clientID;
  await waitFor(() => (a.handle.awareness!.getStates().get(bobId) as { cursor?: unknown } | undefined)?.cursor !== undefined, 5000, "bob's cursor at ann");
  expect(a.handle.awareness!.getStates().get(bobId)).toEqual({ user: { name: 'Bob', color: '#1e88e5' }, cursor: { anchor: 3, head: 5 } });
  // Renewed every half timeout: bob stays while he is there.
  await sleep(TIMEOUT_MS * 1.5);
  expect(a.handle.awareness!.getStates().has(bobId)).toBe(true);

  // Cat's raw client sends one awareness state and then nothing (connected all along: only the timeout can drop it).
  const raw = await TestClient.connect(stack.relayUrls[1]!, await stack.issuer.mint(cat));
  cleanups.push(() => raw.close().catch(() => {}));
  await raw.subscribe(`document:${docId}`);
  const scratch = new Awareness(new Y.Doc());
  scratch.setLocalState({ user: { name: 'Cat' } });
  raw.send({ type: 'signal', channel: `document:${docId}`, event: 'awareness', data: { update: Buffer.from(encodeAwarenessUpdate(scratch, [scratch.clientID])).toString('base64') } });
  scratch.destroy();
  await waitFor(() => a.handle.awareness!.getStates().has(scratch.clientID), 5000, "cat's state at ann");
  const seenAt = Date.now();
  await waitFor(() => !a.handle.awareness!.getStates().has(scratch.clientID), TIMEOUT_MS * 3, "cat's state to expire");
  const expiredAfterMs = Date.now() - seenAt;
  // Bob leaves cleanly: his cursor goes at once (his leave), not after the timeout.
  const leftAt = Date.now();
  await b.handle.close();
  b.ts.close();
  await waitFor(() => !a.handle.awareness!.getStates().has(bobId), 2000, "bob's state to go");
  console.log(`DOCUMENT_CASE ${JSON.stringify({ case: 'awareness', timeoutMs: TIMEOUT_MS, expiredAfterMs, bobGoneMs: Date.now() - leftAt })}`);
  expect(expiredAfterMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 500);
  expect(expiredAfterMs).toBeLessThan(TIMEOUT_MS * 2 + 1000);
  expect(raw.frames.filter((f) => f.type === 'signal' && f.event === 'awareness').length).toBeGreaterThan(0);
}, 60_000);

it('relays coalesce a burst of awareness signals per document: one per sender per window reaches a subscriber on another relay, the latest', async () => {
  const users = ['ann', 'bob', 'cat', 'dan', 'eve'].map(fresh);
  const docId = await createDocument(stack, users[0]!, users.slice(1));
  const channel = `document:${docId}`;
  const senders = await Promise.all(users.map(async (u) => TestClient.connect(stack.relayUrls[0]!, await stack.issuer.mint(u))));
  const receiver = await TestClient.connect(stack.relayUrls[1]!, await stack.issuer.mint(users[0]!));
  for (const c of [...senders, receiver]) cleanups.push(() => c.close().catch(() => {}));
  await Promise.all([...senders, receiver].map((c) => c.subscribe(channel)));
  const BURST = 10;
  for (let n = 1; n <= BURST; n++) for (const [i, s] of senders.entries()) s.send({ type: 'signal', channel, event: 'awareness', data: { update: Buffer.from(`${i}:${n}`).toString('base64') } });
  // The sentinel: a typing signal is never coalesced, and goes out after the burst's window.
  await sleep(400);
  senders[0]!.send({ type: 'signal', channel, event: 'typing', data: { done: true } });
  await receiver.next((f) => f.type === 'signal' && f.event === 'typing');
  const got = receiver.frames.filter((f) => f.type === 'signal' && f.event === 'awareness').map((f) => Buffer.from((f.data as { update: string }).update, 'base64').toString());
  const latest = new Map<string, number>();
  for (const g of got) {
    const [i, n] = g.split(':').map(Number) as [number, number];
    latest.set(String(i), Math.max(latest.get(String(i)) ?? 0, n));
  }
  console.log(`DOCUMENT_CASE ${JSON.stringify({ case: 'awareness-coalescing', senders: senders.length, signalsSent: senders.length * BURST, framesReceived: got.length })}`);
  // Five senders' bursts of ten: each sender's latest state arrives; far fewer than 50 frames do.
  expect([...latest.values()]).toEqual(Array(senders.length).fill(BURST));
  expect(got.length).toBeLessThanOrEqual(senders.length * 3);
}, 30_000);
