/**
 * The Yjs checks of documents (functions/domain/document-state.ts): what is
 * not an update is refused with a domain error, never a crash or a hang, and
 * merging and diffing keep every edit.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { checkStateVector, checkUpdate, diffState, MAX_UPDATE_CONTENTLESS_CLOCKS, mergeState } from '../../functions/domain/document-state.js';
import { DomainError } from '../../functions/domain/errors.js';
import { compactionDue } from '../../functions/domain/document-compaction.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

function validUpdate(texts: string[]): Uint8Array {
  const doc = new Y.Doc();
  for (const t of texts) doc.getText('text').insert(0, t);
  doc.getMap('meta').set('k', texts.length);
  return Y.encodeStateAsUpdate(doc);
}

/** Returns 'ok' or the error code; anything but a DomainError fails the property. */
function outcome(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return err.code;
  }
}

describe('checkUpdate', () => {
  it('accepts real updates and refuses text that is not one', () => {
    const update = validUpdate(['hello']);
    expect(checkUpdate(b64(update))).toEqual(update);
    expect(outcome(() => checkUpdate(b64(Buffer.from('hello'))))).toBe('bad_request');
    expect(outcome(() => checkUpdate('a!b='))).toBe('bad_request');
    expect(outcome(() => checkUpdate(b64(new Uint8Array(96 * 1024 + 1))))).toBe('payload_too_large');
  });

  it('never crashes or hangs on random bytes or mutated updates', () => {
    const base = validUpdate(['alpha', 'beta', 'gamma']);
    const mutated = fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: base.length })).map(([at, byte, cut]) => {
      const copy = base.slice(0, Math.max(1, cut));
      if (at < copy.length) copy[at] = byte;
      return copy;
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), mutated), (bytes) => {
        const started = performance.now();
        expect(['ok', 'bad_request']).toContain(outcome(() => checkUpdate(b64(bytes))));
        expect(performance.now() - started).toBeLessThan(500);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000), seed: 14 },
    );
  });
});

/** Yjs v1 varuint. */
function varUint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push(0x80 | (n % 0x80));
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** A hand-made update: one GC struct of `length` at (client, clock), and delete ranges [client, clock, len]. */
function gcUpdate(client: number, clock: number, length: number, deletes: Array<[number, number, number]> = []): Uint8Array {
  const ds = deletes.flatMap(([c, k, len]) => [...varUint(1), ...varUint(c), ...varUint(1), ...varUint(k), ...varUint(len)]);
  return new Uint8Array([1, 1, ...varUint(client), ...varUint(clock), 0, ...varUint(length), ...(deletes.length ? ds : [0])]);
}

describe('checkUpdate: clock ranges without content', () => {
  it('refuses a GC struct or delete range claiming a huge range of another client (it would silence their edits)', () => {
    const victim = new Y.Doc();
    victim.getText('text').insert(0, 'before');
    const server = new Y.Doc();
    Y.applyUpdate(server, Y.encodeStateAsUpdate(victim));
    const clock = Y.getState(victim.store, victim.clientID);
    const attack = gcUpdate(victim.clientID, clock, 1e12);
    expect(attack.length).toBeLessThan(20);
    // What it would do if stored: the victim's next edit is dropped as already known.
    const attacked = new Y.Doc();
    Y.applyUpdate(attacked, Y.encodeStateAsUpdate(server));
    Y.applyUpdate(attacked, attack);
    const before = Y.encodeStateVector(victim);
    victim.getText('text').insert(6, ' after');
    Y.applyUpdate(attacked, Y.encodeStateAsUpdate(victim, before));
    expect(attacked.getText('text').toString()).toBe('before');
    expect(outcome(() => checkUpdate(b64(attack)))).toBe('bad_request');
    expect(() => checkUpdate(b64(attack))).toThrow(/clock units without content/);
    expect(outcome(() => checkUpdate(b64(gcUpdate(victim.clientID, clock, MAX_UPDATE_CONTENTLESS_CLOCKS + 1))))).toBe('bad_request');
    // A huge delete range over the victim's future clocks is refused the same way.
    expect(outcome(() => checkUpdate(b64(gcUpdate(7, 0, 1, [[victim.clientID, clock, 1e12]]))))).toBe('bad_request');
    // Within the bound, the same shapes pass.
    expect(outcome(() => checkUpdate(b64(gcUpdate(victim.clientID, clock, 1000, [[victim.clientID, 0, 3]]))))).toBe('ok');
  });

  it('accepts an honest state with a large deleted, garbage-collected range', () => {
    const doc = new Y.Doc();
    doc.getText('text').insert(0, 'x'.repeat(200_000));
    doc.getText('text').delete(0, 199_990);
    const update = Y.encodeStateAsUpdate(doc);
    expect(update.length).toBeLessThan(100);
    expect(outcome(() => checkUpdate(b64(update)))).toBe('ok');
  });
});

describe('checkStateVector', () => {
  it('takes base64url and base64, and refuses what does not decode', () => {
    const doc = new Y.Doc();
    doc.getText('t').insert(0, 'x');
    const sv = Y.encodeStateVector(doc);
    expect(checkStateVector(Buffer.from(sv).toString('base64url'))).toEqual(sv);
    expect(checkStateVector(Buffer.from(sv).toString('base64'))).toEqual(sv);
    expect(outcome(() => checkStateVector('////'))).toBe('bad_request');
    expect(outcome(() => checkStateVector('a.b'))).toBe('bad_request');
    expect(outcome(() => checkStateVector('A'.repeat(6000)))).toBe('bad_request');
  });
});

describe('mergeState / diffState', () => {
  it('keeps every update whatever the order, and a diff holds only what is missing', () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    const updates: Uint8Array[] = [];
    for (const d of [a, b]) d.on('update', (u: Uint8Array) => updates.push(u));
    for (let i = 0; i < 50; i++) (i % 2 ? a : b).getText('text').insert(0, `<${i}>`);
    const forward = mergeState(null, updates);
    const backward = mergeState(null, [...updates].reverse());
    const text = (s: Uint8Array) => {
      const d = new Y.Doc();
      Y.applyUpdate(d, s);
      return d.getText('text').toString();
    };
    expect(text(forward)).toBe(text(backward));
    for (let i = 0; i < 50; i++) expect(text(forward)).toContain(`<${i}>`);
    // Applied twice: nothing changes (Yjs updates are idempotent).
    expect(text(mergeState(forward, updates))).toBe(text(forward));
    const partial = mergeState(null, updates.slice(0, 10));
    const reader = new Y.Doc();
    Y.applyUpdate(reader, partial);
    const diff = diffState(forward, Y.encodeStateVector(reader));
    expect(diff.length).toBeLessThan(forward.length);
    Y.applyUpdate(reader, diff);
    expect(reader.getText('text').toString()).toBe(text(forward));
  });

  it('leaves out an update that throws on apply, reports its index, and keeps every other one', () => {
    const bad = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    expect(() => Y.applyUpdate(new Y.Doc(), bad)).toThrow();
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    for (let i = 0; i < 4; i++) doc.getText('text').insert(doc.getText('text').length, `<${i}>`);
    const reported: number[] = [];
    const merged = mergeState(null, [updates[0]!, bad, updates[1]!, updates[2]!, bad, updates[3]!], (index) => reported.push(index));
    expect(reported).toEqual([1, 4]);
    const reader = new Y.Doc();
    Y.applyUpdate(reader, merged);
    expect(reader.getText('text').toString()).toBe('<0><1><2><3>');
    // Without a listener, the bad update is still left out rather than thrown.
    expect(() => mergeState(null, [bad, updates[0]!])).not.toThrow();
  });

  it('is due to compact every 100 seqs or after a large update', () => {
    expect([99, 100, 101, 200].map((s) => compactionDue(s, 10))).toEqual([false, true, false, true]);
    expect(compactionDue(7, 16 * 1024)).toBe(true);
  });
});
