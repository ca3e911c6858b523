/**
 * One Subscription's recovery logic on a virtual clock: the relay and the
 * history route are stand-ins that answer at once (the real stack runs the
 * same paths in sdk.test.ts and guarantee.test.ts). Covers the jittered fills,
 * the `live` start, and the limits against a relay or history that misbehave.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HistoryPage } from '../../client/src/http.js';
import { SignalGate } from '../../client/src/signal-gate.js';
import { MAX_UNFILLED_ROUNDS, REORDER_JITTER_MS, REORDER_WINDOW_MS, RESYNC_SPREAD_MS, Subscription, type SubscriptionHost } from '../../client/src/subscription.js';
import type { ErrorEvent, SubscribeOptions } from '../../client/src/types.js';
import type { ServerFrame } from '../../protocol/frames.js';

const CHANNEL = 'room:r';
const entry = (seq: number, event = 'e') => ({ seq, id: `m${seq}`, event, data: { seq }, ts: 1 });
const live = (seq: number) => ({ type: 'message', channel: CHANNEL, seq, id: `m${seq}`, event: 'e', data: { seq }, ts: 1 }) as ServerFrame;

/** A subscription whose history route answers with `history(afterSeq)`. */
function setup(history: (afterSeq: number) => HistoryPage, options: SubscribeOptions = {}) {
  const errors: ErrorEvent[] = [];
  const frames: Array<Record<string, unknown>> = [];
  const calls: Array<{ afterSeq: number; at: number }> = [];
  const connection = {
    state: 'connected',
    request: async (frame: { type: string }) => ({ type: `${frame.type}d`, channel: CHANNEL }),
    send: (frame: Record<string, unknown>) => (frames.push(frame), true),
    reportError: (e: ErrorEvent) => errors.push(e),
    check() {},
  };
  const api = {
    history: async (_channel: string, afterSeq: number) => {
      calls.push({ afterSeq, at: Date.now() });
      if (calls.length > 200) throw new Error('history asked in a loop');
      return history(afterSeq);
    },
  };
  const signals = new SignalGate((channel, event, data) => connection.send({ type: 'signal', channel, event, data }));
  const host = { connection, api, signalIntervalMs: 100, signals, forget() {} } as unknown as SubscriptionHost;
  const sub = new Subscription(CHANNEL, options, host);
  const delivered: number[] = [];
  sub.on('message', (m) => delivered.push(m.seq));
  sub.start();
  return { sub, errors, frames, calls, delivered };
}

/** A log holding 1..end. */
const logTo = (end: number) => (afterSeq: number): HistoryPage => ({ messages: Array.from({ length: Math.max(0, Math.min(200, end - afterSeq)) }, (_, i) => entry(afterSeq + 1 + i)), nextAfterSeq: afterSeq + 200 < end ? afterSeq + 200 : null });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('fills are spread out', () => {
  it('a `resync` fills at a random moment within RESYNC_SPREAD_MS, not at once', async () => {
    const { sub, calls } = setup(logTo(3));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1); // the fill after subscribing
    vi.spyOn(Math, 'random').mockReturnValue(0.9);
    sub.handleFrame({ type: 'resync', channel: CHANNEL } as ServerFrame);
    await vi.advanceTimersByTimeAsync(RESYNC_SPREAD_MS * 0.9 - 50);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(2);
  });

  it('a hole waits the reorder window plus jitter before history is asked', async () => {
    let end = 3;
    const { sub, calls, delivered } = setup((after) => logTo(end)(after));
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual([1, 2, 3]);
    vi.spyOn(Math, 'random').mockReturnValue(0.8);
    end = 5;
    sub.handleFrame(live(5)); // 4 is missing
    await vi.advanceTimersByTimeAsync(REORDER_WINDOW_MS + REORDER_JITTER_MS * 0.8 - 20);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(40);
    expect(calls.at(-1)).toMatchObject({ afterSeq: 3 });
    expect(delivered).toEqual([1, 2, 3, 4, 5]);
  });
});

describe("since: 'live'", () => {
  it('keeps an earlier seq that arrives after a later one within the window, and fills the hole below the rest', async () => {
    const { sub, delivered, calls } = setup(logTo(44), { since: 'live' });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(0); // no position yet
    sub.handleFrame(live(42));
    sub.handleFrame(live(40));
    sub.handleFrame(live(43));
    expect(delivered).toEqual([]);
    await vi.advanceTimersByTimeAsync(REORDER_WINDOW_MS + REORDER_JITTER_MS);
    // 40 is the start; 41 came from history.
    expect(delivered).toEqual([40, 41, 42, 43, 44]);
    sub.handleFrame(live(45));
    expect(delivered.at(-1)).toBe(45);
  });
});

describe('a misbehaving relay or history', () => {
  it('gives up on a far-future seq history never has after MAX_UNFILLED_ROUNDS fills, says so, and carries on', async () => {
    let end = 5;
    const { sub, delivered, calls, errors } = setup((after) => logTo(end)(after));
    await vi.advanceTimersByTimeAsync(0);
    sub.handleFrame(live(1_000_000));
    await vi.advanceTimersByTimeAsync(120_000);
    const fills = calls.length;
    expect(fills).toBe(1 + MAX_UNFILLED_ROUNDS);
    expect(errors.map((e) => e.context)).toEqual([{ channel: CHANNEL, afterSeq: 5, dropped: { fromSeq: 1_000_000, toSeq: 1_000_000, count: 1 } }]);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(calls).toHaveLength(fills); // no more polling
    end = 6;
    sub.handleFrame(live(6));
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sub.state).toBe('subscribed');
  });

  it('stops when a page moves on without the next seq (no tight loop), reports it, retries with backoff, then gives up', async () => {
    // Seq 2 is skipped without a tombstone; nextAfterSeq keeps saying "more".
    const { delivered, calls, errors, sub } = setup((after) => (after < 1 ? { messages: [entry(1)], nextAfterSeq: 1 } : { messages: [entry(3)], nextAfterSeq: 3 }));
    const subscribed: boolean[] = [];
    sub.on('subscribed', (e) => subscribed.push(e.recovered));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.length).toBe(2);
    expect(errors[0]?.message).toMatch(/skipped seq 2 without a tombstone/);
    expect(subscribed).toEqual([false]);
    await vi.advanceTimersByTimeAsync(300_000);
    expect(calls.length).toBe(1 + MAX_UNFILLED_ROUNDS);
    expect(errors.at(-1)?.context).toMatchObject({ afterSeq: 1, dropped: { fromSeq: 3, toSeq: 3, count: 1 } });
    expect(delivered).toEqual([1]);
  });
});

describe('delivery and signals', () => {
  it('stops a batch when a listener unsubscribes, and remembers the last seq really delivered', async () => {
    const { sub } = setup(logTo(5));
    const got: number[] = [];
    sub.on('message', (m) => {
      got.push(m.seq);
      if (m.seq === 2) sub.unsubscribe();
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual([1, 2]);
    expect(sub.resumeSeq).toBe(2);
  });

  it('measures signal data in UTF-8 bytes, as the relay does', async () => {
    const { sub, frames } = setup(logTo(0));
    await vi.advanceTimersByTimeAsync(0);
    // 1400 euro signs: 1,408 UTF-16 code units serialized, but 4,208 bytes.
    expect(() => sub.signal('typing', { t: '€'.repeat(1400) })).toThrow(/4208 bytes/);
    sub.signal('typing', { t: '€'.repeat(1300) });
    expect(frames.filter((f) => f.type === 'signal')).toHaveLength(1);
  });
});
