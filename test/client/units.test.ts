/** The SDK's pure parts: backoff, retry hints, ordering, frame decoding, signal throttling, token expiry. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, retryHintMs } from '../../client/src/backoff.js';
import { decodeFrame } from '../../client/src/frames.js';
import { newClientMessageId } from '../../client/src/ids.js';
import { Sequencer } from '../../client/src/sequencer.js';
import { SignalThrottle } from '../../client/src/signal-throttle.js';
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
    expect(retryHintMs('retryMs=9999999')).toBe(120_000);
    expect(retryHintMs('relay restarting')).toBeNull();
    expect(retryHintMs('retryMs=abc')).toBeNull();
    expect(retryHintMs('xretryMs=5')).toBeNull();
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

  it('starts `live` at the first message and only fills after that', () => {
    const s = new Sequencer('room:r', null);
    expect(s.applyHistory([entry(1)])).toEqual([]);
    expect(seqs(s.offerLive(msg(41)))).toEqual([41]);
    expect(seqs(s.offerLive(msg(40)))).toEqual([]);
    expect(seqs(s.applyHistory([entry(42)]))).toEqual([42]);
  });

  it('holds at most maxBuffered messages ahead of a hole (history still has the rest)', () => {
    const s = new Sequencer('room:r', 0, 3);
    for (const seq of [2, 3, 4, 5, 6]) s.offerLive(msg(seq));
    expect(s.buffered).toBe(3);
    expect(seqs(s.offerLive(msg(1)))).toEqual([1, 2, 3, 4]);
    expect(seqs(s.applyHistory([entry(5), entry(6)]))).toEqual([5, 6]);
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
