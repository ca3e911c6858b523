/** The SDK's pure parts: backoff, retry hints, ordering, frame decoding, signal throttling, token expiry. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, clampRetryHint, MAX_RETRY_HINT_MS, parseRetryAfter, retryHintMs } from '../../client/src/backoff.js';
import { Emitter } from '../../client/src/emitter.js';
import { decodeFrame } from '../../client/src/frames.js';
import { checkHistoryPage } from '../../client/src/http.js';
import { newClientMessageId } from '../../client/src/ids.js';
import { Sequencer } from '../../client/src/sequencer.js';
import { MAX_WAITING_SIGNALS, SignalGate } from '../../client/src/signal-gate.js';
import { SignalThrottle } from '../../client/src/signal-throttle.js';
import { utf8Length } from '../../client/src/subscription.js';
import { tokenExpiry } from '../../client/src/tokens.js';
import type { Message } from '../../client/src/types.js';
import { ID_PATTERN } from '../../protocol/channels.js';

const msg = (seq: number): Message => ({ channel: 'room:r', seq, id: `id${seq}`, event: 'message.created', data: { n: seq }, ts: 1 });
const entry = (seq: number, event = 'message.created') => ({ seq, id: `id${seq}`, event, data: null, ts: 1 });
const seqs = (list: Message[]) => list.map((m) => m.seq);

describe('Backoff (full jitter)', () => {
  it('draws each delay uniformly below a cap that doubles from minDelayMs up to maxDelayMs', () => {
    const top = new Backoff({ minDelayMs: 500, maxDelayMs: 20_000 }, () => 0.9999);
    expect(Array.from({ length: 9 }, () => top.next())).toEqual([499, 999, 1999, 3999, 7999, 15_998, 19_998, 19_998, 19_998]);
    const bottom = new Backoff({}, () => 0);
    expect(Array.from({ length: 5 }, () => bottom.next())).toEqual([0, 0, 0, 0, 0]);
    top.reset();
    expect(top.next()).toBe(499);
  });

  it('after 1013 waits at least the floor plus full jitter over max(cap, floor), so a fleet does not return at one instant', () => {
    const top = new Backoff({ minDelayMs: 500, maxDelayMs: 20_000 }, () => 0.9999);
    expect(Array.from({ length: 5 }, () => top.nextAtLeast(2000))).toEqual([3999, 3999, 3999, 5999, 9999]);
    expect(new Backoff({}, () => 0).nextAtLeast(2000)).toBe(2000);
    const delays = Array.from({ length: 1000 }, () => new Backoff({ minDelayMs: 500, maxDelayMs: 20_000 }).nextAtLeast(2000));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...delays)).toBeLessThan(4000);
    // Spread over the 2 s window: no 100 ms slice holds more than a fifth of the fleet.
    const slices = new Map<number, number>();
    for (const d of delays) slices.set(Math.floor(d / 100), (slices.get(Math.floor(d / 100)) ?? 0) + 1);
    expect(Math.max(...slices.values())).toBeLessThan(200);
  });

  it('spreads many clients over the window instead of one wave', () => {
    const delays = Array.from({ length: 2000 }, () => new Backoff({ minDelayMs: 500, maxDelayMs: 20_000 }).next());
    const buckets = [0, 0, 0, 0, 0];
    for (const d of delays) buckets[Math.floor(d / 100)]!++;
    expect(Math.max(...delays)).toBeLessThan(500);
    // Roughly 400 per 100 ms bucket; a wave would put them all in one.
    for (const b of buckets) expect(b).toBeGreaterThan(250);
  });
});

describe('retryHintMs', () => {
  it('reads `retryMs=` from a close reason, bounded, and nothing else', () => {
    expect(retryHintMs('relay restarting; retryMs=3000')).toBe(3000);
    expect(retryHintMs('retryMs=9999999')).toBe(MAX_RETRY_HINT_MS);
    expect(retryHintMs('relay restarting')).toBeNull();
    expect(retryHintMs('retryMs=abc')).toBeNull();
    expect(retryHintMs('xretryMs=5')).toBeNull();
  });
});

describe('retry hints from HTTP answers', () => {
  it('clamps any hint to whole ms within 0…60 s, and ignores what is not a finite number', () => {
    expect(clampRetryHint(1500)).toBe(1500);
    expect(clampRetryHint(0.2)).toBe(1);
    expect(clampRetryHint(-5)).toBe(0);
    expect(clampRetryHint(2 ** 31)).toBe(60_000);
    expect(clampRetryHint(1e300)).toBe(60_000);
    for (const bad of [NaN, Infinity, -Infinity, '2000', null, undefined, {}]) expect(clampRetryHint(bad)).toBeUndefined();
  });

  it('reads Retry-After as delay-seconds or an HTTP date, clamped', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('99999999', now)).toBe(60_000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 09:00:00 GMT', now)).toBe(0);
    for (const bad of ['', '-1', '1.5', 'soon', null, undefined]) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });
});

describe('checkHistoryPage', () => {
  const page = (messages: Array<ReturnType<typeof entry>>, extra: object = {}) => ({ messages, nextAfterSeq: null, ...extra });
  it('accepts the documented shape and clamps retryAfterMs', () => {
    expect(checkHistoryPage(page([entry(4), entry(5)]), 3, 2).messages).toHaveLength(2);
    expect(checkHistoryPage(page([], { retryAfterMs: 2 ** 40 }), 3, 200).retryAfterMs).toBe(60_000);
  });

  it('refuses more entries than asked for, seqs not after afterSeq or not ascending', () => {
    expect(() => checkHistoryPage(page([entry(4), entry(5), entry(6)]), 3, 2)).toThrow(/documented shape/);
    expect(() => checkHistoryPage(page([entry(3)]), 3, 200)).toThrow(/documented shape/);
    expect(() => checkHistoryPage(page([entry(5), entry(4)]), 3, 200)).toThrow(/documented shape/);
    expect(() => checkHistoryPage(page([entry(5), entry(5)]), 3, 200)).toThrow(/documented shape/);
    expect(() => checkHistoryPage(page([entry(2 ** 60)]), 3, 200)).toThrow(/documented shape/);
  });
});

describe('Sequencer', () => {
  it('delivers in order, buffers what comes early and drops duplicates', () => {
    const s = new Sequencer('room:r', 0);
    expect(seqs(s.offerLive(msg(1)))).toEqual([1]);
    expect(seqs(s.offerLive(msg(3)))).toEqual([]);
    expect(s.hasHole()).toBe(true);
    expect(seqs(s.offerLive(msg(4)))).toEqual([]);
    expect(seqs(s.offerLive(msg(2)))).toEqual([2, 3, 4]);
    expect(s.hasHole()).toBe(false);
    expect(seqs(s.offerLive(msg(3)))).toEqual([]);
    expect(s.lastSeq).toBe(4);
  });

  it('fills from history: tombstones use up their seq unseen, live duplicates of history are dropped', () => {
    const s = new Sequencer('room:r', 5);
    expect(seqs(s.offerLive(msg(9)))).toEqual([]);
    expect(seqs(s.applyHistory([entry(5), entry(6), entry(7, 'gap'), entry(8)]))).toEqual([6, 8, 9]);
    expect(s.lastSeq).toBe(9);
    expect(seqs(s.offerLive(msg(8)))).toEqual([]);
    expect(seqs(s.applyHistory([entry(10, 'gap')]))).toEqual([]);
    expect(seqs(s.offerLive(msg(11)))).toEqual([11]);
  });

  it('never delivers across a seq history skipped without a tombstone', () => {
    const s = new Sequencer('room:r', 0);
    expect(seqs(s.applyHistory([entry(1), entry(3)]))).toEqual([1]);
    expect(s.hasHole()).toBe(true);
    expect(seqs(s.applyHistory([entry(2), entry(3)]))).toEqual([2, 3]);
  });

  it('reports a range history no longer holds, once', () => {
    const s = new Sequencer('room:r', 3);
    expect(s.skipTo(119)).toEqual({ fromSeq: 4, toSeq: 119 });
    expect(s.skipTo(100)).toBeNull();
    expect(seqs(s.applyHistory([entry(120)]))).toEqual([120]);
  });

  it('starts `live` at the lowest seq that arrived within the reorder window, so a late earlier one is not lost', () => {
    const s = new Sequencer('room:r', null);
    expect(s.applyHistory([entry(1)])).toEqual([]);
    expect(seqs(s.offerLive(msg(41)))).toEqual([]);
    expect(seqs(s.offerLive(msg(39)))).toEqual([]);
    expect(s.unsettled).toBe(true);
    expect(s.hasHole()).toBe(false); // no position yet: nothing to fill from
    expect(seqs(s.settle())).toEqual([39]);
    expect(s.hasHole()).toBe(true); // 40 is missing: filled from history as usual
    expect(seqs(s.applyHistory([entry(40), entry(41), entry(42)]))).toEqual([40, 41, 42]);
    expect(seqs(s.offerLive(msg(43)))).toEqual([43]);
  });

  it('holds at most maxBuffered messages ahead of a hole (history still has the rest)', () => {
    const s = new Sequencer('room:r', 0, 3);
    for (const seq of [2, 3, 4, 5, 6]) s.offerLive(msg(seq));
    expect(s.buffered).toBe(3);
    expect(seqs(s.offerLive(msg(1)))).toEqual([1, 2, 3, 4]);
    expect(seqs(s.applyHistory([entry(5), entry(6)]))).toEqual([5, 6]);
  });

  it('bounds what it holds by size too, from live frames and history pages alike; a lower seq displaces the highest', () => {
    const big = (seq: number): Message => ({ ...msg(seq), data: 'x'.repeat(1000) });
    const s = new Sequencer('room:r', 0, 100, 3500);
    for (const seq of [10, 20, 30, 40]) s.offerLive(big(seq));
    expect(s.buffered).toBe(3);
    expect(s.bufferedSize).toBeLessThanOrEqual(3500);
    s.offerLive(big(5)); // needed sooner than 30: takes its place
    s.applyHistory([{ ...entry(50), data: 'y'.repeat(1000) }]); // beyond everything held: dropped
    expect(s.dropBuffered()).toEqual({ fromSeq: 5, toSeq: 20, count: 3 });
    expect(s.bufferedSize).toBe(0);
    // A single entry over the whole bound is never held.
    s.offerLive({ ...msg(60), data: 'z'.repeat(4000) });
    expect(s.buffered).toBe(0);
  });

  it('drops the held messages when asked (history never filled the hole below them) and carries on', () => {
    const s = new Sequencer('room:r', 3);
    s.offerLive(msg(1_000_000));
    expect(s.hasHole()).toBe(true);
    expect(s.dropBuffered()).toEqual({ fromSeq: 1_000_000, toSeq: 1_000_000, count: 1 });
    expect(s.hasHole()).toBe(false);
    expect(seqs(s.offerLive(msg(4)))).toEqual([4]);
  });
});

describe('decodeFrame', () => {
  it('accepts valid frames and ignores types it does not know (forward compatibility)', () => {
    expect(decodeFrame('{"type":"message","channel":"room:r","seq":1,"id":"a","event":"e","data":{},"ts":5}')).toMatchObject({ ok: true, frame: { type: 'message', seq: 1 } });
    expect(decodeFrame('{"type":"join","channel":"room:r","userId":"bob"}')).toMatchObject({ ok: true, frame: { type: 'join' } });
    expect(decodeFrame('{"type":"hologram","x":1}')).toEqual({ ok: false, ignored: true, type: 'hologram' });
  });

  it('reports malformed frames with context, never throws', () => {
    expect(decodeFrame('not json')).toEqual({ ok: false, ignored: false, message: 'frame is not JSON' });
    expect(decodeFrame('[1]')).toMatchObject({ ok: false, ignored: false, message: 'frame is not a JSON object' });
    expect(decodeFrame('{"seq":1}')).toMatchObject({ ok: false, ignored: false, message: 'frame has no string `type`' });
    expect(decodeFrame('{"type":"message","channel":"room:r","seq":"7","id":"a","event":"e","data":1,"ts":5}')).toEqual({ ok: false, ignored: false, type: 'message', message: 'invalid `message` frame at seq' });
    expect(decodeFrame(new Uint8Array([1, 2]))).toMatchObject({ ok: false, ignored: false, message: 'binary frame from the server' });
    expect(decodeFrame('x'.repeat(3 * 1024 * 1024))).toMatchObject({ ok: false, ignored: false });
  });
});

describe('SignalThrottle', () => {
  afterEach(() => vi.useRealTimers());

  it('sends the first at once, coalesces the rest per event and sends the last one when the interval ends', () => {
    vi.useFakeTimers();
    const sent: Array<[string, unknown]> = [];
    const t = new SignalThrottle(100, (event, data) => sent.push([event, data]));
    for (let i = 1; i <= 10; i++) t.push('cursor', { x: i });
    t.push('typing', { on: true });
    expect(sent).toEqual([
      ['cursor', { x: 1 }],
      ['typing', { on: true }],
    ]);
    vi.advanceTimersByTime(100);
    expect(sent.at(-1)).toEqual(['cursor', { x: 10 }]);
    expect(sent).toHaveLength(3);
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(3);
    t.push('cursor', { x: 11 });
    expect(sent.at(-1)).toEqual(['cursor', { x: 11 }]);
    t.push('cursor', { x: 12 });
    t.clear();
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(4);
  });
});

describe('SignalGate (the connection-wide signal budget)', () => {
  it('sends a burst at once, then at the rate; a waiting signal is replaced by a newer one of its channel and event', () => {
    let now = 0;
    const sent: Array<[string, string, unknown]> = [];
    vi.useFakeTimers();
    const gate = new SignalGate((c, e, d) => sent.push([c, e, d]), 10, 5, () => now);
    // Five channels, each with a cursor moving 20 times.
    for (let i = 1; i <= 20; i++) for (let c = 1; c <= 5; c++) gate.push(`room:${c}`, 'cursor', { i });
    expect(sent).toHaveLength(5); // the burst
    expect(gate.waitingCount).toBe(5); // one per (channel, event), the latest of each
    now += 1000;
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(10);
    expect(sent.slice(5).map(([c, , d]) => [c, d])).toEqual([1, 2, 3, 4, 5].map((c) => [`room:${c}`, { i: 20 }]));
    expect(gate.waitingCount).toBe(0);
  });

  it('never sends faster than the rate over time, and bounds what waits', () => {
    let now = 0;
    const sentAt: number[] = [];
    vi.useFakeTimers();
    const gate = new SignalGate(() => sentAt.push(now), 15, 30, () => now);
    for (let ms = 0; ms < 10_000; ms += 10) {
      now = ms;
      vi.advanceTimersByTime(10);
      for (let c = 0; c < 5; c++) gate.push(`room:${c}`, `e${ms % 3}`, ms);
    }
    // 30 at once plus 15/s for 10 s, against 5000 pushed.
    expect(sentAt.length).toBeLessThanOrEqual(30 + 15 * 10 + 1);
    expect(sentAt.length).toBeGreaterThan(150);
    for (let i = 0; i < 1000; i++) gate.push(`room:x${i}`, 'e', i);
    expect(gate.waitingCount).toBeLessThanOrEqual(MAX_WAITING_SIGNALS);
    gate.clear('room:x1');
    gate.clear();
    expect(gate.waitingCount).toBe(0);
  });
});

describe('Emitter', () => {
  it('does not call a listener removed by an earlier listener of the same event', () => {
    const e = new Emitter<{ m: number }>();
    const got: string[] = [];
    let offB = () => {};
    e.on('m', (n) => {
      got.push(`a${n}`);
      offB();
    });
    offB = e.on('m', (n) => got.push(`b${n}`));
    e.emit('m', 1);
    e.emit('m', 2);
    expect(got).toEqual(['a1', 'a2']);
  });
});

describe('utf8Length', () => {
  it('counts UTF-8 bytes as the relay does', () => {
    expect(utf8Length('ab')).toBe(2);
    expect(utf8Length('é')).toBe(2);
    expect(utf8Length('€')).toBe(3);
    expect(utf8Length('😀')).toBe(4);
    expect(utf8Length('\ud800')).toBe(3);
    for (const text of ['', 'a€😀é', 'x'.repeat(100), '中文字']) expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'));
  });
});

describe('ids and tokens', () => {
  it('makes clientMessageIds the API accepts, all different', () => {
    const ids = new Set(Array.from({ length: 1000 }, newClientMessageId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(ID_PATTERN.test(id)).toBe(true);
  });

  it("reads a JWT's exp, and null for tokens it cannot read", () => {
    const payload = Buffer.from(JSON.stringify({ sub: 'a', exp: 1_800_000_000 })).toString('base64url');
    expect(tokenExpiry(`h.${payload}.s`)).toBe(1_800_000_000_000);
    expect(tokenExpiry('opaque-token')).toBeNull();
    expect(tokenExpiry('h.!!!.s')).toBeNull();
  });
});
