/**
 * Properties of the SDK's core under arbitrary input (fast-check): whatever
 * order, duplication and mix of live frames and history pages arrive, the app
 * sees exactly 1..n in order; and no server text makes frame decoding throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { watchAppState, watchBrowser } from '../../client/src/environment.js';
import { decodeFrame } from '../../client/src/frames.js';
import { Sequencer, type HistoryEntry } from '../../client/src/sequencer.js';
import type { Message } from '../../client/src/types.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const live = (seq: number): Message => ({ channel: 'room:r', seq, id: `m${seq}`, event: 'e', data: seq, ts: 1 });
const stored = (seq: number, tombstones: ReadonlySet<number>): HistoryEntry => ({ seq, id: `m${seq}`, event: tombstones.has(seq) ? 'gap' : 'e', data: seq, ts: 1 });

describe('Sequencer properties', () => {
  it('delivers every stored seq exactly once, in order, whatever arrives live and whenever history is read', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 80 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            // Live arrivals: any seqs of 1..n, any order, duplicates and losses included.
            arrivals: fc.array(fc.integer({ min: 1, max: n }), { maxLength: 3 * n }),
            // History reads interleaved at arbitrary points, each returning at most `size` entries.
            reads: fc.array(fc.record({ at: fc.nat(3 * n), size: fc.integer({ min: 1, max: 20 }) }), { maxLength: 10 }),
            tombstones: fc.uniqueArray(fc.integer({ min: 1, max: n }), { maxLength: Math.floor(n / 4) }),
            // The buffer's bounds (count, serialized size) may be tiny: dropping never breaks the order.
            maxBuffered: fc.integer({ min: 1, max: 100 }),
            maxChars: fc.integer({ min: 150, max: 5000 }),
          }),
        ),
        ({ n, arrivals, reads, tombstones, maxBuffered, maxChars }) => {
          const dead = new Set(tombstones);
          const s = new Sequencer('room:r', 0, maxBuffered, maxChars);
          const out: number[] = [];
          const readPage = (size: number) => {
            const after = s.lastSeq!;
            const page = Array.from({ length: Math.min(size, n - after) }, (_, i) => stored(after + 1 + i, dead));
            out.push(...s.applyHistory(page).map((m) => m.seq));
          };
          arrivals.forEach((seq, i) => {
            for (const r of reads) if (r.at === i) readPage(r.size);
            // A tombstoned seq is never published live.
            if (!dead.has(seq)) out.push(...s.offerLive(live(seq)).map((m) => m.seq));
          });
          // The final fill pages to the end of the log.
          while (s.lastSeq! < n) readPage(20);
          const expected = Array.from({ length: n }, (_, i) => i + 1).filter((seq) => !dead.has(seq));
          expect(out).toEqual(expected);
          expect(s.hasHole()).toBe(false);
          expect(s.bufferedSize).toBe(0);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("Sequencer `live` start", () => {
  it('delivers every seq from the lowest that arrived within the window, exactly once, in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        (base, n, early, late) => {
          const s = new Sequencer('room:r', null);
          const seqOf = (k: number) => base + 1 + (k % n);
          // Within the reorder window: arrivals in any order, nothing delivered yet.
          for (const k of early) expect(s.offerLive(live(seqOf(k)))).toEqual([]);
          const start = Math.min(...early.map(seqOf));
          const out = s.settle().map((m) => m.seq);
          for (const k of late) out.push(...s.offerLive(live(seqOf(k))).map((m) => m.seq));
          // The fill pages to the end of the log.
          while (s.lastSeq! < base + n) out.push(...s.applyHistory([stored(s.lastSeq! + 1, new Set())]).map((m) => m.seq));
          expect(out).toEqual(Array.from({ length: base + n - start + 1 }, (_, i) => start + i));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('decodeFrame properties', () => {
  it('never throws, and only accepts objects whose type it knows', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v)), fc.record({ type: fc.constantFrom('message', 'welcome', 'presence', 'join', 'pong', 'x'), channel: fc.string(), seq: fc.anything() }).map((v) => JSON.stringify(v))), (text) => {
        const decoded = decodeFrame(text);
        if (decoded.ok) expect(typeof decoded.frame.type).toBe('string');
        else if (!decoded.ignored) expect(decoded.message.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('platform hooks', () => {
  it('checks at once when the page becomes visible or the network returns, and stops listening when told', () => {
    const g = globalThis as Record<string, unknown>;
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    const win = new EventTarget();
    g.document = doc;
    g.addEventListener = win.addEventListener.bind(win);
    g.removeEventListener = win.removeEventListener.bind(win);
    try {
      let checks = 0;
      const stop = watchBrowser(() => checks++);
      doc.dispatchEvent(new Event('visibilitychange')); // hidden: nothing to check
      doc.visibilityState = 'visible';
      doc.dispatchEvent(new Event('visibilitychange'));
      win.dispatchEvent(new Event('online'));
      expect(checks).toBe(2);
      stop();
      win.dispatchEvent(new Event('online'));
      expect(checks).toBe(2);
    } finally {
      delete g.document;
      delete g.addEventListener;
      delete g.removeEventListener;
    }
  });

  it("checks when React Native's AppState returns to active", () => {
    const listeners: Array<(s: string) => void> = [];
    const appState = { addEventListener: (_: 'change', l: (s: string) => void) => (listeners.push(l), { remove: () => listeners.splice(listeners.indexOf(l), 1) }) };
    let checks = 0;
    const stop = watchAppState(appState, () => checks++);
    for (const s of ['background', 'active', 'inactive', 'active']) listeners.forEach((l) => l(s));
    expect(checks).toBe(2);
    stop();
    expect(listeners).toHaveLength(0);
  });
});
