/**
 * The document binding's parts, alone: base64, the update batcher (debounce,
 * max wait, retries with the same id, offline pile-up, size limit, giving up
 * for good) over real Yjs docs, delete-set comparison, awareness sync between
 * two real y-protocols Awareness instances (with its bounds),
 * and the public HTTP types against protocol/documents.ts.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import * as encoding from 'lib0/encoding';
import { AwarenessSync, awarenessEntriesOf, MAX_AWARENESS_CLIENTS_PER_USER, MAX_REMOTE_AWARENESS_CLIENTS } from '../../client/src/awareness-sync.js';
import { fromBase64, toBase64 } from '../../client/src/base64.js';
import type * as Sdk from '../../client/src/index.js';
import { TownsquareError } from '../../client/src/errors.js';
import { MAX_UPDATE_BYTES, UpdateBatcher, type BatcherOptions, type PostFailure } from '../../client/src/update-batcher.js';
import { MAX_STATE_VECTOR_BYTES } from '../../client/src/document.js';
import { lacksDeletions } from '../../client/src/document-diff.js';
import * as Docs from '../../protocol/documents.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('base64', () => {
  it('round-trips any bytes, standard and url-safe, exactly as Buffer encodes them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
        expect(toBase64(bytes, true)).toBe(Buffer.from(bytes).toString('base64url'));
        expect([...fromBase64(toBase64(bytes))]).toEqual([...bytes]);
        expect([...fromBase64(toBase64(bytes, true))]).toEqual([...bytes]);
      }),
    );
  });

  it('refuses what is not base64 with a TypeError', () => {
    expect(() => fromBase64('ab$d')).toThrow(TypeError);
    expect(() => fromBase64('abcde')).toThrow(TypeError);
    expect(() => fromBase64('ä')).toThrow(TypeError);
  });
});

/** A batcher posting into a server-side doc, with the posts it made. */
function harness(options: Partial<BatcherOptions> = {}, fail?: (n: number) => unknown) {
  const server = new Y.Doc();
  const posts: Array<{ id: string; bytes: number; at: number }> = [];
  const errors: Array<{ outcome: string }> = [];
  let attempts = 0;
  const batcher = new UpdateBatcher({
    debounceMs: 200,
    maxWaitMs: 1000,
    maxBytes: MAX_UPDATE_BYTES,
    post: async (update, id) => {
      const failure = fail?.(++attempts);
      if (failure) throw failure;
      Y.applyUpdate(server, update);
      posts.push({ id, bytes: update.length, at: Date.now() });
    },
    classify: (error): PostFailure => {
      const status = (error as TownsquareError).status;
      return status === 403 ? 'stop' : status === 400 ? 'refused' : 'retry';
    },
    onError: (_e, c) => errors.push({ outcome: c.outcome }),
    onStop: () => {},
    ...options,
  });
  const local = new Y.Doc();
  local.on('update', (u: Uint8Array) => batcher.add(u));
  return { server, local, posts, errors, batcher, attemptsMade: () => attempts };
}

describe('UpdateBatcher', () => {
  it('continuous typing (10 keystrokes a second for 5 s) costs one post a second, merged, and loses nothing', async () => {
    vi.useFakeTimers();
    const h = harness();
    const text = h.local.getText('text');
    for (let i = 0; i < 50; i++) {
      text.insert(text.length, String(i % 10));
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.posts.length).toBeGreaterThanOrEqual(5);
    expect(h.posts.length).toBeLessThanOrEqual(6);
    expect(h.server.getText('text').toString()).toBe(text.toString());
    expect(h.batcher.unsaved).toBe(0);
    expect(new Set(h.posts.map((p) => p.id)).size).toBe(h.posts.length);
  });

  it('posts a pause in typing after the debounce, not before', async () => {
    vi.useFakeTimers();
    const h = harness();
    h.local.getText('text').insert(0, 'hi');
    await vi.advanceTimersByTimeAsync(150);
    expect(h.posts).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(60);
    expect(h.posts).toHaveLength(1);
    expect(h.server.getText('text').toString()).toBe('hi');
  });

  it('retries a failed post with the same clientUpdateId, and keeps later edits for the next post', async () => {
    vi.useFakeTimers();
    const ids: string[] = [];
    const h = harness({}, (n) => (n <= 2 ? new TownsquareError('network', 'down') : undefined));
    const originalPost = h.batcher['options'].post;
    h.batcher['options'].post = (u, id) => {
      ids.push(id);
      return originalPost(u, id);
    };
    h.local.getText('text').insert(0, 'one');
    await vi.advanceTimersByTimeAsync(250);
    h.local.getText('text').insert(3, ' two');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[1]).toBe(ids[2]);
    expect(h.posts.map((p) => p.id)).toEqual([ids[0], ids[3]]);
    expect(h.server.getText('text').toString()).toBe('one two');
    expect(h.errors.map((e) => e.outcome)).toEqual(['retry', 'retry']);
  });

  it('an offline session of 2,000 edits is kept compact and goes out in a few posts under the size limit', async () => {
    vi.useFakeTimers();
    let online = false;
    const h = harness({ maxBytes: 4096 }, () => (online ? undefined : new TownsquareError('network', 'offline')));
    const text = h.local.getText('text');
    for (let i = 0; i < 2000; i++) text.insert(Math.floor((i * 7919) % (text.length + 1)), 'abcdefghij'[i % 10]!);
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.batcher.unsaved).toBe(2000);
    expect(h.batcher['pending'].length).toBeLessThan(256);
    online = true;
    h.batcher.retryNow();
    await h.batcher.flush();
    expect(h.server.getText('text').toString()).toBe(text.toString());
    expect(h.posts.every((p) => p.bytes <= 4096)).toBe(true);
    expect(h.posts.length).toBeLessThan(40);
  });

  it('stops for good when the API refuses a batch as malformed, never counting it or a later change as saved', async () => {
    vi.useFakeTimers();
    const reasons: string[] = [];
    let saved = 0;
    const refusal = harness({ onStop: (_e, reason) => reasons.push(reason), onSaved: () => saved++ }, (n) => (n === 1 ? new TownsquareError('bad_request', 'no', 400) : undefined));
    refusal.local.getText('text').insert(0, 'x');
    await expect(refusal.batcher.flush()).rejects.toMatchObject({ code: 'bad_request' });
    expect(refusal.errors.map((e) => e.outcome)).toEqual(['refused']);
    expect(reasons).toEqual(['unsaveable']);
    refusal.local.getText('text').insert(1, 'y');
    await vi.advanceTimersByTimeAsync(5000);
    await expect(refusal.batcher.flush()).rejects.toMatchObject({ code: 'bad_request' });
    expect(refusal.attemptsMade()).toBe(1);
    expect(refusal.batcher.unsaved).toBe(1);
    expect(saved).toBe(0);

    const stops: unknown[] = [];
    const denied = harness({ onStop: (e) => stops.push(e) }, () => new TownsquareError('forbidden', 'no', 403));
    denied.local.getText('text').insert(0, 'x');
    const flushed = expect(denied.batcher.flush()).rejects.toMatchObject({ code: 'forbidden' });
    await vi.advanceTimersByTimeAsync(10);
    expect(stops).toHaveLength(1);
    await flushed;
    expect(denied.attemptsMade()).toBe(1);
  });

  it('a single change over the limit is never posted nor counted as saved, and stops the batcher with it', async () => {
    vi.useFakeTimers();
    const reasons: string[] = [];
    let saved = 0;
    const h = harness({ maxBytes: 1000, onStop: (_e, reason) => reasons.push(reason), onSaved: () => saved++ });
    h.local.getText('text').insert(0, 'ok');
    await h.batcher.flush();
    h.local.getText('text').insert(0, 'x'.repeat(5000));
    await expect(h.batcher.flush()).rejects.toThrow(/over the 1000-byte update limit/);
    h.local.getText('text').insert(0, 'later');
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.posts).toHaveLength(1);
    expect(h.server.getText('text').toString()).toBe('ok');
    expect(h.errors.map((e) => e.outcome)).toEqual(['too_large']);
    expect(reasons).toEqual(['unsaveable']);
    expect(saved).toBe(1);
    expect(h.batcher.unsaved).toBe(1);
  });
});

describe('lacksDeletions', () => {
  it('finds a deletion the other delete set lacks, whole or partly, and none once it has them', () => {
    const server = new Y.Doc();
    server.getText('text').insert(0, 'hello world, hello moon');
    const local = new Y.Doc();
    Y.applyUpdate(local, Y.encodeStateAsUpdate(server));
    const deletes = (doc: Y.Doc) => Y.createDeleteSetFromStructStore(doc.store);
    expect(lacksDeletions(deletes(server), deletes(local))).toBe(false);
    server.getText('text').delete(0, 3);
    local.getText('text').delete(0, 6); // overlaps the server's deletion and goes beyond it
    expect(lacksDeletions(deletes(server), deletes(local))).toBe(true);
    expect(lacksDeletions(deletes(local), deletes(server))).toBe(false);
    Y.applyUpdate(server, Y.encodeStateAsUpdate(local));
    Y.applyUpdate(local, Y.encodeStateAsUpdate(server));
    expect(lacksDeletions(deletes(server), deletes(local))).toBe(false);
    local.getText('text').delete(10, 2);
    expect(lacksDeletions(deletes(server), deletes(local))).toBe(true);
  });
});

describe('AwarenessSync', () => {
  type Sent = { update: string; ask?: true };
  function pair(timeoutMs = 30_000) {
    const docs = [new Y.Doc(), new Y.Doc()];
    const awareness = docs.map((d) => new Awareness(d));
    const errors: string[] = [];
    const sent: Sent[][] = [[], []];
    const syncs: AwarenessSync[] = [];
    for (const i of [0, 1]) {
      syncs.push(
        new AwarenessSync(
          awareness[i]!,
          {
            send: (data) => {
              sent[i]!.push(data);
              syncs[1 - i]?.receive(i === 0 ? 'ann' : 'bob', data);
            },
            onError: (message) => errors.push(message),
          },
          timeoutMs,
        ),
      );
    }
    return { awareness: awareness as [Awareness, Awareness], syncs: syncs as [AwarenessSync, AwarenessSync], sent: sent as [Sent[], Sent[]], errors };
  }

  it('a local state reaches the other side, and a user leaving removes their states at once', () => {
    const p = pair();
    p.awareness[0].setLocalStateField('cursor', { anchor: 1 });
    expect(p.awareness[1].getStates().get(p.awareness[0].clientID)).toEqual({ cursor: { anchor: 1 } });
    expect(p.syncs[1].userOf(p.awareness[0].clientID)).toBe('ann');
    p.syncs[1].userLeft('ann');
    expect(p.awareness[1].getStates().has(p.awareness[0].clientID)).toBe(false);
    p.syncs.forEach((s) => s.destroy());
    p.awareness.forEach((a) => a.destroy());
  });

  it('ignores an update for a client id another user already holds, and garbage', () => {
    const p = pair();
    p.awareness[0].setLocalStateField('name', 'Ann');
    const forged = new Awareness(new Y.Doc());
    forged.clientID = p.awareness[0].clientID;
    forged.setLocalState({ name: 'Mallory' });
    p.syncs[1].receive('mallory', { update: toBase64(encodeAwarenessUpdate(forged, [forged.clientID])) });
    expect(p.awareness[1].getStates().get(p.awareness[0].clientID)).toEqual({ name: 'Ann' });
    for (const bad of [null, 'x', { update: 42 }, { update: '!!!' }, { update: toBase64(new Uint8Array([5, 1])) }, { update: 'A'.repeat(9000) }]) p.syncs[1].receive('mallory', bad);
    expect(p.errors.length).toBeGreaterThanOrEqual(6);
    p.syncs.forEach((s) => s.destroy());
    p.awareness.forEach((a) => a.destroy());
    forged.destroy();
  });

  /** An awareness signal holding `[clientId, clock, state]` entries, encoded as y-protocols does. */
  function awarenessSignal(entries: Array<[number, number, unknown]>): { update: string } {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, entries.length);
    for (const [id, clock, state] of entries) {
      encoding.writeVarUint(encoder, id);
      encoding.writeVarUint(encoder, clock);
      encoding.writeVarString(encoder, JSON.stringify(state));
    }
    return { update: toBase64(encoding.toUint8Array(encoder)) };
  }

  it('removals of unknown client ids take no room: a flood of them does not lock out later collaborators', async () => {
    vi.useFakeTimers();
    const p = pair(1000);
    // 600 null states for ids never seen (more than the whole limit), some in one update with a real removal.
    for (let id = 1; id <= 600; id++) p.syncs[1].receive('mallory', awarenessSignal([[id, 5, null]]));
    p.syncs[1].receive('mallory', awarenessSignal([[700, 1, { name: 'M' }]]));
    expect(p.awareness[1].getStates().get(700)).toEqual({ name: 'M' });
    p.syncs[1].receive('mallory', awarenessSignal([[701, 1, null], [700, 2, null], [702, 1, null]]));
    expect(p.awareness[1].getStates().has(700)).toBe(false);
    expect(p.syncs[1]['owners'].size).toBe(0);
    expect(p.awareness[1].meta.size).toBeLessThanOrEqual(3);
    p.awareness[0].setLocalStateField('name', 'Ann');
    expect(p.awareness[1].getStates().get(p.awareness[0].clientID)).toEqual({ name: 'Ann' });
    expect(p.syncs[1].userOf(p.awareness[0].clientID)).toBe('ann');
    // An owner entry left without a state (an update applied nothing: an old clock) goes at the next sweep.
    p.syncs[1].receive('mallory', awarenessSignal([[800, 1, { name: 'M' }]]));
    p.awareness[1].meta.set(801, { clock: 9, lastUpdated: Date.now() });
    p.syncs[1].receive('mallory', awarenessSignal([[801, 3, { name: 'old' }]]));
    expect(p.awareness[1].getStates().has(801)).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(p.syncs[1].userOf(801)).toBeUndefined();
    expect(p.syncs[1].userOf(800)).toBe('mallory');
    p.syncs.forEach((s) => s.destroy());
    p.awareness.forEach((a) => a.destroy());
  });

  it('caps the states one user holds, and the remote states in all', () => {
    const p = pair();
    const before = p.errors.length;
    for (let id = 1; id <= MAX_AWARENESS_CLIENTS_PER_USER + 5; id++) p.syncs[1].receive('mallory', awarenessSignal([[id, 1, { n: id }]]));
    const mallory = [...p.awareness[1].getStates().keys()].filter((id) => p.syncs[1].userOf(id) === 'mallory');
    expect(mallory).toHaveLength(MAX_AWARENESS_CLIENTS_PER_USER);
    expect(p.errors.length - before).toBe(5);
    // Renewing a held state still works at the cap.
    p.syncs[1].receive('mallory', awarenessSignal([[1, 2, { n: 'renewed' }]]));
    expect(p.awareness[1].getStates().get(1)).toEqual({ n: 'renewed' });
    // Many users, 10 states each: the total stops at the limit.
    for (let u = 0; u < 60; u++) for (let k = 0; k < 10; k++) p.syncs[1].receive(`u${u}`, awarenessSignal([[10_000 + u * 10 + k, 1, { u }]]));
    const remote = [...p.awareness[1].getStates().keys()].filter((id) => id !== p.awareness[1].clientID);
    expect(remote).toHaveLength(MAX_REMOTE_AWARENESS_CLIENTS);
    p.syncs.forEach((s) => s.destroy());
    p.awareness.forEach((a) => a.destroy());
  });

  it('never throws on whatever a signal carries, and applies nothing that does not decode', () => {
    const p = pair();
    const before = p.awareness[1].getStates().size;
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ update: fc.oneof(fc.string(), fc.base64String()), ask: fc.anything() })), fc.string(), (data, userId) => {
        expect(() => p.syncs[1].receive(userId, data)).not.toThrow();
      }),
      { numRuns: 300 },
    );
    // Random base64 may decode as an update now and then; the local state is never touched.
    expect(p.awareness[1].getLocalState()).toEqual({});
    expect(p.awareness[1].getStates().size).toBeGreaterThanOrEqual(before);
    p.syncs.forEach((s) => s.destroy());
    p.awareness.forEach((a) => a.destroy());
  });

  it('answers an ask with its own state; after subscribing its own signals ask', () => {
    const p = pair();
    p.awareness[1].setLocalStateField('name', 'Bob');
    // Ann dropped Bob (say he seemed gone); a re-send of the same clock would not bring him back.
    p.syncs[0].userLeft('bob');
    expect(p.awareness[0].getStates().has(p.awareness[1].clientID)).toBe(false);
    p.syncs[0].subscribed();
    expect(p.sent[0].at(-1)?.ask).toBe(true);
    // Bob answered ann's ask with his state under a new clock (no ask of his own).
    expect(p.sent[1].at(-1)).toEqual({ update: expect.any(String) });
    expect(p.awareness[0].getStates().get(p.awareness[1].clientID)).toEqual({ name: 'Bob' });
    p.syncs.forEach((s) => s.destroy());
    p.awareness.forEach((a) => a.destroy());
  });

  it('drops a remote state not renewed within the timeout, and renews its own at half of it', async () => {
    vi.useFakeTimers();
    const p = pair(2000);
    p.awareness[0].setLocalStateField('name', 'Ann');
    const annId = p.awareness[0].clientID;
    const sentBefore = p.sent[0].length;
    await vi.advanceTimersByTimeAsync(1500);
    expect(p.sent[0].length).toBeGreaterThan(sentBefore); // renewed
    expect(p.awareness[1].getStates().has(annId)).toBe(true);
    // Ann goes silent (her sync stops), bob drops her after the timeout.
    p.syncs[0].destroy = () => {};
    p.syncs[0]['stopListening']();
    clearInterval(p.syncs[0]['sweeper']);
    await vi.advanceTimersByTimeAsync(2500);
    expect(p.awareness[1].getStates().has(annId)).toBe(false);
    p.syncs[1].destroy();
    p.awareness.forEach((a) => a.destroy());
  });

  it('reads the client ids of an awareness update, and refuses anything else without hanging', () => {
    const a = new Awareness(new Y.Doc());
    a.setLocalState({ x: 1 });
    const bytes = encodeAwarenessUpdate(a, [a.clientID]);
    expect(awarenessEntriesOf(bytes)).toEqual([{ id: a.clientID, removal: false, start: 1, end: bytes.length }]) // after the count;
    a.setLocalState(null);
    expect(awarenessEntriesOf(encodeAwarenessUpdate(a, [a.clientID])).map((e) => [e.id, e.removal])).toEqual([[a.clientID, true]]);
    a.destroy();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const ids = awarenessEntriesOf(bytes).map((e) => e.id);
          expect(Array.isArray(ids)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
        }
      }),
    );
  });
});

describe('public types and limits', () => {
  it('match protocol/documents.ts', () => {
    expectTypeOf<Sdk.DocumentInfo>().toEqualTypeOf<Docs.Document>();
    expectTypeOf<Sdk.DocumentSummary>().toEqualTypeOf<Docs.DocumentSummary>();
    expectTypeOf<Sdk.DocumentsPage>().toEqualTypeOf<Docs.DocumentsPage>();
    expectTypeOf<Sdk.Collaborator>().toEqualTypeOf<Docs.Collaborator>();
    expectTypeOf<Sdk.DocumentStateResponse>().toEqualTypeOf<Docs.DocumentState>();
    expectTypeOf<Sdk.DocumentUpdateResult>().toEqualTypeOf<Docs.DocumentUpdateResult>();
    expect(MAX_UPDATE_BYTES).toBe(Docs.MAX_DOCUMENT_UPDATE_BYTES);
    expect(MAX_STATE_VECTOR_BYTES).toBe(Docs.MAX_STATE_VECTOR_BYTES);
  });
});
