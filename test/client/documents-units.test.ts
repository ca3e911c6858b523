/**
 * The document binding's parts, alone: base64, the update batcher (debounce,
 * max wait, retries with the same id, offline pile-up, size limit) over real
 * Yjs docs, awareness sync between two real y-protocols Awareness instances,
 * and the public HTTP types against protocol/documents.ts.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { AwarenessSync, clientIdsOf } from '../../client/src/awareness-sync.js';
import { fromBase64, toBase64 } from '../../client/src/base64.js';
import type * as Sdk from '../../client/src/index.js';
import { TownsquareError } from '../../client/src/errors.js';
import { MAX_UPDATE_BYTES, UpdateBatcher, type BatcherOptions, type PostFailure } from '../../client/src/update-batcher.js';
import { MAX_STATE_VECTOR_BYTES } from '../../client/src/document.js';
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
      return status === 403 ? 'stop' : status === 400 ? 'drop' : 'retry';
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

  it('drops a batch the API refuses as malformed, and stops for good on no access', async () => {
    vi.useFakeTimers();
    const refusal = harness({}, () => new TownsquareError('bad_request', 'no', 400));
    refusal.local.getText('text').insert(0, 'x');
    await expect(refusal.batcher.flush()).resolves.toBeUndefined();
    expect(refusal.errors.map((e) => e.outcome)).toEqual(['drop']);

    const stops: unknown[] = [];
    const denied = harness({ onStop: (e) => stops.push(e) }, () => new TownsquareError('forbidden', 'no', 403));
    denied.local.getText('text').insert(0, 'x');
    const flushed = denied.batcher.flush();
    await vi.advanceTimersByTimeAsync(10);
    expect(stops).toHaveLength(1);
    denied.batcher.stop(new TownsquareError('forbidden', 'no access'));
    await expect(flushed).rejects.toMatchObject({ code: 'forbidden' });
    expect(denied.attemptsMade()).toBe(1);
  });

  it('reports a single change over the limit instead of posting it', async () => {
    vi.useFakeTimers();
    const h = harness({ maxBytes: 1000 });
    h.local.getText('text').insert(0, 'x'.repeat(5000));
    await h.batcher.flush();
    expect(h.posts).toHaveLength(0);
    expect(h.errors.map((e) => e.outcome)).toEqual(['too_large']);
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
    expect(clientIdsOf(encodeAwarenessUpdate(a, [a.clientID]))).toEqual([a.clientID]);
    a.destroy();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const ids = clientIdsOf(bytes);
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
