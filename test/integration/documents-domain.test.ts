/**
 * Documents' domain over real stores (dynalite, s3rver): updates checked and
 * appended through the channel log, state = snapshot + log tail, compaction
 * racing appends and readers, snapshots in S3 when large, state-vector diffs.
 */
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compact, loadState, snapshotPrefix, type CompactionResult, type StateProblem } from '../../functions/domain/document-compaction.js';
import { createDocument, getDocumentState, postUpdate, addCollaborator, type DocumentDeps } from '../../functions/domain/documents.js';
import { append, read } from '../../functions/domain/channel-log.js';
import { listChannelMessages } from '../../functions/domain/channel-history.js';
import { mergeState } from '../../functions/domain/document-state.js';
import type { Publisher } from '../../functions/domain/ports.js';
import { decodeEnvelope, documentChannel } from '../../protocol/index.js';
import { MAX_DOCUMENT_UPDATE_BYTES } from '../../protocol/documents.js';
import { b64, randomEdit, seeded, startDocumentStores, unb64, type DocumentStores } from '../helpers/documents.js';
import { domainError } from '../helpers/stores.js';

class RecordingPublisher implements Publisher {
  readonly published: Array<{ channel: string; payload: string }> = [];
  async publish(channel: string, payload: string): Promise<void> {
    this.published.push({ channel, payload });
  }
}

let stores: DocumentStores;
beforeAll(async () => {
  stores = await startDocumentStores('docdomain');
});
afterAll(() => stores?.stop());

const compactions: CompactionResult[] = [];
function deps(overrides: Partial<DocumentDeps> = {}): DocumentDeps & { publisher: RecordingPublisher } {
  return {
    rooms: stores.rooms,
    channels: stores.channels,
    documents: stores.documents,
    snapshots: stores.snapshots,
    publisher: new RecordingPublisher(),
    onCompaction: (_docId, outcome) => {
      if ('error' in outcome) throw outcome.error;
      compactions.push(outcome);
    },
    ...overrides,
  } as DocumentDeps & { publisher: RecordingPublisher };
}

/** Every update in the log from seq 1, merged: what the document must equal whatever compaction did. */
async function replayLog(docId: string): Promise<Uint8Array> {
  const updates: Uint8Array[] = [];
  let after = 0;
  for (;;) {
    const page = await read({ channels: stores.channels }, documentChannel(docId), after, 200);
    for (const e of page.entries) if (e.event === 'document.update') updates.push(unb64((e.data as { update: string }).update));
    if (page.nextAfterSeq === null) break;
    after = page.nextAfterSeq;
  }
  return mergeState(null, updates);
}

/** Bytes of every update in the document's log. */
async function logSize(docId: string): Promise<number> {
  let bytes = 0;
  let after = 0;
  for (;;) {
    const page = await read({ channels: stores.channels }, documentChannel(docId), after, 200);
    for (const e of page.entries) if (e.event === 'document.update') bytes += unb64((e.data as { update: string }).update).length;
    if (page.nextAfterSeq === null) return bytes;
    after = page.nextAfterSeq;
  }
}

const textOf = (state: Uint8Array) => {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  return doc.getText('text').toString();
};

/** Whether state vector `later` has every clock of `earlier` at least as high. */
function dominates(later: Map<number, number>, earlier: Map<number, number>): boolean {
  for (const [client, clock] of earlier) if ((later.get(client) ?? 0) < clock) return false;
  return true;
}

describe('updates', () => {
  it('refuses what does not decode as a Yjs update with 400, and one too large with 413; nothing is written', async () => {
    const d = deps();
    const doc = await createDocument(d, 'ann', 'notes');
    const channel = documentChannel(doc.docId);
    const garbage = [
      Buffer.from('not an update').toString('base64'),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).toString('base64'),
      Buffer.from([1, 1, 200, 1, 0, 4, 0xff]).toString('base64'),
    ];
    for (const update of garbage) {
      const err = await domainError(postUpdate(d, { docId: doc.docId, userId: 'ann', update, clientUpdateId: 'bad' }));
      expect(err.code).toBe('bad_request');
      expect(err.message).toContain('not a Yjs update');
    }
    expect((await domainError(postUpdate(d, { docId: doc.docId, userId: 'ann', update: 'not base64!', clientUpdateId: 'b' }))).code).toBe('bad_request');
    const huge = b64(new Uint8Array(MAX_DOCUMENT_UPDATE_BYTES + 1));
    expect((await domainError(postUpdate(d, { docId: doc.docId, userId: 'ann', update: huge, clientUpdateId: 'h' }))).code).toBe('payload_too_large');
    expect((await stores.channels.head(channel)).lastSeq).toBe(0);
    expect(d.publisher.published).toEqual([]);
  });

  it('appends valid updates with gap-free seqs, replays a retry by clientUpdateId, and refuses non-collaborators', async () => {
    const d = deps();
    const doc = await createDocument(d, 'bea', 'plan');
    const y = new Y.Doc();
    y.getText('text').insert(0, 'hello');
    const update = b64(Y.encodeStateAsUpdate(y));
    const first = await postUpdate(d, { docId: doc.docId, userId: 'bea', update, clientUpdateId: 'u1' });
    const retry = await postUpdate(d, { docId: doc.docId, userId: 'bea', update, clientUpdateId: 'u1' });
    expect(first).toMatchObject({ seq: 1, created: true, published: true });
    expect(retry).toMatchObject({ seq: 1, created: false });
    const envelope = decodeEnvelope(d.publisher.published[0]!.payload);
    expect(envelope).toMatchObject({ kind: 'message', channel: documentChannel(doc.docId), seq: 1, event: 'document.update', data: { update, userId: 'bea', clientUpdateId: 'u1' } });

    expect((await domainError(postUpdate(d, { docId: doc.docId, userId: 'eve', update, clientUpdateId: 'x' }))).code).toBe('forbidden');
    expect((await domainError(getDocumentState(d, { docId: doc.docId, userId: 'eve' }))).code).toBe('forbidden');
    expect((await domainError(getDocumentState(d, { docId: 'd_nope', userId: 'eve' }))).code).toBe('not_found');
    await addCollaborator(d, 'bea', doc.docId, 'eve');
    const state = await getDocumentState(d, { docId: doc.docId, userId: 'eve' });
    expect(state).toMatchObject({ docId: doc.docId, title: 'plan', seq: 1 });
    expect(textOf(unb64(state.update))).toBe('hello');
  });
});

describe('state vectors', () => {
  it('answers only what a client lacks', async () => {
    const d = deps();
    const doc = await createDocument(d, 'cy', 'long');
    const writer = new Y.Doc();
    let n = 0;
    const post = async () => {
      const before = Y.encodeStateVector(writer);
      writer.getText('text').insert(writer.getText('text').length, `paragraph ${n} `.repeat(40));
      await postUpdate(d, { docId: doc.docId, userId: 'cy', update: b64(Y.encodeStateAsUpdate(writer, before)), clientUpdateId: `p${n++}` });
    };
    for (let i = 0; i < 20; i++) await post();
    const full = await getDocumentState(d, { docId: doc.docId, userId: 'cy' });
    const reader = new Y.Doc();
    Y.applyUpdate(reader, unb64(full.update));
    await post();
    const sv = Buffer.from(Y.encodeStateVector(reader)).toString('base64url');
    const diff = await getDocumentState(d, { docId: doc.docId, userId: 'cy', stateVector: sv });
    const fullAgain = await getDocumentState(d, { docId: doc.docId, userId: 'cy' });
    expect(diff.seq).toBe(21);
    // The diff holds one paragraph's worth; the full state twenty-one.
    expect(unb64(diff.update).length).toBeLessThan(unb64(fullAgain.update).length / 10);
    Y.applyUpdate(reader, unb64(diff.update));
    expect(reader.getText('text').toString()).toBe(writer.getText('text').toString());
    // Up to date: the diff is an empty update.
    const none = await getDocumentState(d, { docId: doc.docId, userId: 'cy', stateVector: Buffer.from(Y.encodeStateVector(reader)).toString('base64url') });
    expect(unb64(none.update).length).toBeLessThanOrEqual(2);
    expect((await domainError(getDocumentState(d, { docId: doc.docId, userId: 'cy', stateVector: '////' }))).code).toBe('bad_request');
  });
});

describe('compaction', () => {
  it('races concurrent appends and readers: the document stays identical and complete, and no reader goes back', async () => {
    const d = deps();
    const doc = await createDocument(d, 'dee', 'raced');
    for (const u of ['eli', 'fin']) await addCollaborator(d, 'dee', doc.docId, u);
    const users = ['dee', 'eli', 'fin'];
    const markers: string[] = [];
    let writing = true;

    const writer = async (userId: string, index: number) => {
      const y = new Y.Doc();
      const random = seeded(1000 + index);
      for (let i = 0; i < 120; i++) {
        const before = Y.encodeStateVector(y);
        const marker = randomEdit(y, random, `${userId}-${i}`);
        if (marker) markers.push(marker);
        const update = Y.encodeStateAsUpdate(y, before);
        await postUpdate(d, { docId: doc.docId, userId, update: b64(update), clientUpdateId: `${userId}-${i}` });
        if (i % 10 === 9) {
          // Catch up with the others now and then, so edits interleave in one text.
          const state = await getDocumentState(d, { docId: doc.docId, userId, stateVector: Buffer.from(Y.encodeStateVector(y)).toString('base64url') });
          Y.applyUpdate(y, unb64(state.update));
        }
      }
    };
    const compactor = async () => {
      let runs = 0;
      while (writing) {
        await compact(d, doc.docId);
        runs++;
      }
      return runs;
    };
    const reader = async () => {
      let previous = { seq: 0, sv: new Map<number, number>() };
      let reads = 0;
      while (writing) {
        const loaded = await loadState(d, doc.docId);
        const sv = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(loaded.state));
        expect(loaded.seq).toBeGreaterThanOrEqual(previous.seq);
        expect(dominates(sv, previous.sv)).toBe(true);
        previous = { seq: loaded.seq, sv };
        reads++;
      }
      return reads;
    };
    const writers = Promise.all(users.map(writer)).finally(() => (writing = false));
    compactions.length = 0;
    const [, runs, reads] = await Promise.all([writers, compactor(), reader()]);

    const final = await loadState(d, doc.docId);
    const replayed = await replayLog(doc.docId);
    expect(final.seq).toBe(360);
    expect(final.snapshot?.seq).toBeGreaterThan(0);
    expect(textOf(final.state)).toBe(textOf(replayed));
    expect(Buffer.from(Y.encodeStateVectorFromUpdate(final.state))).toEqual(Buffer.from(Y.encodeStateVectorFromUpdate(replayed)));
    const text = textOf(final.state);
    for (const m of markers) expect(text).toContain(`[${m}]`);
    expect(runs).toBeGreaterThan(1);
    expect(reads).toBeGreaterThan(1);
    // A last compaction folds in everything: nothing left to apply after it.
    const last = await compact(d, doc.docId);
    const compactionsHere = compactions.filter((c) => c.compacted);
    const biggest = [last, ...compactionsHere].reduce((a, b) => (b.before.tailEntries > a.before.tailEntries ? b : a));
    const after = await loadState(d, doc.docId);
    expect(after.tailEntries).toBe(0);
    expect(textOf(after.state)).toBe(text);
    const logBytes = await logSize(doc.docId);
    console.log(
      `[documents] compaction of a ${text.length}-character text edited 360 times by 3 writers: the log holds 360 updates, ${logBytes} B;`,
      `the largest compaction found snapshot ${biggest.before.snapshotBytes} B at seq ${biggest.before.snapshotSeq} + ${biggest.before.tailEntries} entries (${biggest.before.tailBytes} B) to apply`,
      `and left snapshot ${biggest.snapshotBytes} B at seq ${biggest.seq}; in the end snapshot ${after.snapshot!.bytes} B at seq ${after.seq} + 0 entries (${runs} compactor runs, ${compactionsHere.length} inline)`,
    );
  });

  it('reads the pointer again when the object it named was replaced while it read', async () => {
    const d = deps();
    const doc = await createDocument(d, 'hal', 'moving');
    const y = new Y.Doc();
    const random = seeded(3);
    const post = (i: number) => {
      const before = Y.encodeStateVector(y);
      y.getText('text').insert(y.getText('text').length, Array.from({ length: 90 * 1024 }, () => String.fromCharCode(33 + Math.floor(random() * 90))).join(''));
      return postUpdate(d, { docId: doc.docId, userId: 'hal', update: b64(Y.encodeStateAsUpdate(y, before)), clientUpdateId: `m${i}` });
    };
    for (let i = 0; i < 5; i++) await post(i);
    const first = (await stores.documents.getSnapshot(doc.docId))!;
    expect(first.objectKey).toBeDefined();
    // A reader that has read the pointer; before it fetches the object, a compaction moves the pointer and deletes it.
    let raced = 0;
    const racing = {
      ...stores.snapshots,
      put: stores.snapshots.put.bind(stores.snapshots),
      list: stores.snapshots.list.bind(stores.snapshots),
      delete: stores.snapshots.delete.bind(stores.snapshots),
      get: async (key: string) => {
        if (raced++ === 0) {
          await post(5);
          expect(await stores.snapshots.get(key)).toBeNull();
        }
        return stores.snapshots.get(key);
      },
    };
    const state = await loadState({ ...d, snapshots: racing }, doc.docId);
    expect(raced).toBe(2);
    expect(state.snapshot!.seq).toBe(6);
    expect(textOf(state.state)).toBe(y.getText('text').toString());
  });

  it('counts and lists documents apart from rooms on the shared index', async () => {
    const d = deps();
    for (let i = 0; i < 3; i++) await createDocument(d, 'ivy', `doc ${i}`);
    expect(await stores.documents.countCollaborations('ivy', 10)).toBe(3);
    expect(await stores.rooms.countMemberships('ivy', 10)).toBe(0);
    expect((await stores.rooms.listMemberships('ivy', { limit: 10 })).memberships).toEqual([]);
    expect(await domainError(createDocument({ ...d, maxDocumentsPerUser: 3 }, 'ivy', 'one more'))).toMatchObject({ code: 'limit_exceeded' });
  });

  it('keeps snapshots larger than an item in S3 and reads them back; older objects are deleted', async () => {
    const d = deps();
    const doc = await createDocument(d, 'gil', 'big');
    const y = new Y.Doc();
    const random = seeded(7);
    const chunk = () => Array.from({ length: 90 * 1024 }, () => String.fromCharCode(33 + Math.floor(random() * 90))).join('');
    const results: CompactionResult[] = [];
    const d2 = deps({ onCompaction: (_id, outcome) => void ('error' in outcome ? null : results.push(outcome)) });
    for (let i = 0; i < 24; i++) {
      const before = Y.encodeStateVector(y);
      y.getText('text').insert(y.getText('text').length, chunk());
      await postUpdate(d2, { docId: doc.docId, userId: 'gil', update: b64(Y.encodeStateAsUpdate(y, before)), clientUpdateId: `c${i}` });
    }
    const pointer = await stores.documents.getSnapshot(doc.docId);
    expect(pointer?.seq).toBe(24);
    expect(pointer?.objectKey).toBeDefined();
    expect(pointer?.data).toBeUndefined();
    expect(await stores.snapshots.list(snapshotPrefix(doc.docId))).toEqual([pointer!.objectKey]);
    const state = await getDocumentState(d, { docId: doc.docId, userId: 'gil' });
    expect(textOf(unb64(state.update))).toBe(y.getText('text').toString());
    const last = results.at(-1)!;
    expect(last.storage).toBe('s3');
    expect(last.snapshotBytes).toBeGreaterThan(2 * 1024 * 1024);
    // The figures the issue asks for: the largest document tested, and a compaction's sizes.
    console.log(
      `[documents] largest document: ${y.getText('text').length} characters, snapshot ${last.snapshotBytes} bytes in S3;`,
      `compaction before: snapshot ${last.before.snapshotBytes} B at seq ${last.before.snapshotSeq} + log ${last.before.tailEntries} entries / ${last.before.tailBytes} B;`,
      `after: snapshot ${last.snapshotBytes} B at seq ${last.seq} + log 0 entries`,
    );
  });
});

describe('damage and races', () => {
  /** A document with `n` updates of random text, appended without compacting (seq < 100, small updates). */
  async function writeUpdates(d: DocumentDeps, owner: string, n: number): Promise<{ docId: string; y: Y.Doc }> {
    const doc = await createDocument(d, owner, 'racy');
    const y = new Y.Doc();
    const random = seeded(11);
    for (let i = 0; i < n; i++) {
      const before = Y.encodeStateVector(y);
      y.getText('text').insert(y.getText('text').length, Array.from({ length: 200 }, () => String.fromCharCode(33 + Math.floor(random() * 90))).join(''));
      await postUpdate(d, { docId: doc.docId, userId: owner, update: b64(Y.encodeStateAsUpdate(y, before)), clientUpdateId: `r${i}` });
    }
    return { docId: doc.docId, y };
  }

  it('two compactions reaching the same seq in S3: the loser never deletes the object the pointer names', async () => {
    const d = deps({ inlineSnapshotMaxBytes: 100 });
    const { docId, y } = await writeUpdates(d, 'kim', 8);
    // Both write their object before either writes its pointer: the race that used to share one key.
    let waiting: Array<() => void> = [];
    const barrier = {
      ...stores.snapshots,
      get: stores.snapshots.get.bind(stores.snapshots),
      list: stores.snapshots.list.bind(stores.snapshots),
      delete: stores.snapshots.delete.bind(stores.snapshots),
      put: async (key: string, bytes: Uint8Array) => {
        await stores.snapshots.put(key, bytes);
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length === 2) for (const go of waiting) go();
        });
      },
    };
    const results = await Promise.all([compact({ ...d, snapshots: barrier }, docId), compact({ ...d, snapshots: barrier }, docId)]);
    waiting = [];
    expect(results.map((r) => r.compacted).sort()).toEqual([false, true]);
    expect(results.every((r) => r.storage === 's3' && r.seq === 8)).toBe(true);
    const pointer = (await stores.documents.getSnapshot(docId))!;
    expect(pointer.seq).toBe(8);
    expect(await stores.snapshots.get(pointer.objectKey!)).not.toBeNull();
    expect(await stores.snapshots.list(snapshotPrefix(docId))).toEqual([pointer.objectKey]);
    const problems: StateProblem[] = [];
    const state = await getDocumentState({ ...d, onStateProblem: (_id, p) => problems.push(p) }, { docId, userId: 'kim' });
    expect(state.seq).toBe(8);
    expect(textOf(unb64(state.update))).toBe(y.getText('text').toString());
    expect(problems).toEqual([]);
  });

  it('rebuilds from the log when the object the live pointer names is missing, and the next compaction repairs it', async () => {
    const d = deps({ inlineSnapshotMaxBytes: 100 });
    const { docId, y } = await writeUpdates(d, 'lou', 6);
    expect((await compact(d, docId)).compacted).toBe(true);
    const lost = (await stores.documents.getSnapshot(docId))!;
    await stores.snapshots.delete([lost.objectKey!]);
    const problems: StateProblem[] = [];
    const loaded = await loadState({ ...d, onStateProblem: (_id, p) => problems.push(p) }, docId);
    expect(loaded.seq).toBe(6);
    expect(textOf(loaded.state)).toBe(y.getText('text').toString());
    expect(problems).toEqual([{ kind: 'snapshot_missing', seq: 6, objectKey: lost.objectKey }]);
    // One more update, one more compaction: a new pointer with its object.
    y.getText('text').insert(0, 'more ');
    await postUpdate(d, { docId, userId: 'lou', update: b64(Y.encodeStateAsUpdate(y)), clientUpdateId: 'more' });
    const repaired = await compact(d, docId);
    expect(repaired).toMatchObject({ compacted: true, seq: 7 });
    const after = await loadState({ ...d, onStateProblem: (_id, p) => problems.push(p) }, docId);
    expect(problems).toHaveLength(1);
    expect(textOf(after.state)).toBe(y.getText('text').toString());
  });

  it('a stored update Yjs cannot apply is left out and reported; reads and compaction go on', async () => {
    const d = deps();
    const { docId, y } = await writeUpdates(d, 'max', 2);
    // Stored past checkUpdate (as one from before a check, or failing only on top of others would be).
    const bad = b64(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]));
    await append({ ...d, retentionMs: undefined }, documentChannel(docId), { event: 'document.update', data: { update: bad, userId: 'max', clientUpdateId: 'bad' } });
    const before = Y.encodeStateVector(y);
    y.getText('text').insert(0, 'after ');
    await postUpdate(d, { docId, userId: 'max', update: b64(Y.encodeStateAsUpdate(y, before)), clientUpdateId: 'after' });
    const problems: StateProblem[] = [];
    const d2 = { ...d, onStateProblem: (_id: string, p: StateProblem) => problems.push(p) };
    const state = await getDocumentState(d2, { docId, userId: 'max' });
    expect(state.seq).toBe(4);
    expect(textOf(unb64(state.update))).toBe(y.getText('text').toString());
    expect(problems).toMatchObject([{ kind: 'bad_updates', seqs: [3] }]);
    expect(await compact(d2, docId)).toMatchObject({ compacted: true, seq: 4 });
    expect(textOf((await loadState(d2, docId)).state)).toBe(y.getText('text').toString());
  });

  it('checks access before decoding an update, and history of a document ignores chat retention', async () => {
    const d = deps();
    const { docId } = await writeUpdates(d, 'ned', 1);
    const garbage = Buffer.from('not an update').toString('base64');
    expect((await domainError(postUpdate(d, { docId, userId: 'stranger', update: garbage, clientUpdateId: 'g' }))).code).toBe('forbidden');
    // A seq reserved and never written, read long after: with chat retention it would count as expired.
    const channel = documentChannel(docId);
    await stores.channels.reserveSeq(channel, Date.now());
    await postUpdate(d, { docId, userId: 'ned', update: b64(Y.encodeStateAsUpdate(new Y.Doc())), clientUpdateId: 'late' });
    const later = () => Date.now() + 30 * 24 * 3600_000;
    const page = await listChannelMessages({ ...d, now: later, retentionMs: 24 * 3600_000 }, { channel, userId: 'ned', afterSeq: 1, limit: 10 });
    expect(page.truncated).toBeUndefined();
    expect(page.messages.map((m) => [m.seq, m.event])).toEqual([
      [2, 'gap'],
      [3, 'document.update'],
    ]);
  });
});
