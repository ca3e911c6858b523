// When presence script runs happen, without Redis: the heartbeat wheel (every channel once per interval at
// its own slot, no second run while one is going) and the per-channel queue (one run at a time, in order,
// waiting wishes merged, a full sweep batch swept again at once). Redis-backed behaviour: presence-*.test.ts
// in test/integration.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatWheel } from '../../socket-relay/presence-heartbeat.js';
import { PresenceQueue, type UpdateOp } from '../../socket-relay/presence-queue.js';
import type { UpdateCounts } from '../../socket-relay/presence-scripts.js';

describe('the heartbeat wheel', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs every channel once per interval, spread over the slots, each exactly one interval after its last', async () => {
    const beats: Array<{ channel: string; at: number }> = [];
    const wheel = new HeartbeatWheel(1000, async (channel) => void beats.push({ channel, at: Date.now() }), () => {}, 10);
    const channels = Array.from({ length: 25 }, (_, i) => `room:c${i}`);
    for (const channel of channels) wheel.add(channel);
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(3000);
    wheel.stop();

    for (const channel of channels) {
      const at = beats.filter((b) => b.channel === channel).map((b) => b.at - start);
      expect(at).toHaveLength(3);
      expect([at[1]! - at[0]!, at[2]! - at[1]!]).toEqual([1000, 1000]);
    }
    // 25 channels over 10 slots: never more than 3 runs at one instant (a burst would be 25).
    const perInstant = new Map<number, number>();
    for (const b of beats) perInstant.set(b.at, (perInstant.get(b.at) ?? 0) + 1);
    expect(Math.max(...perInstant.values())).toBeLessThanOrEqual(3);
    expect(perInstant.size).toBe(30);
  });

  it('skips a channel’s turn while its previous heartbeat still runs, and stops beating a deleted channel', async () => {
    const started: string[] = [];
    const skipped: string[] = [];
    let finishSlow!: () => void;
    const wheel = new HeartbeatWheel(
      1000,
      (channel) => {
        started.push(channel);
        if (channel !== 'room:slow') return Promise.resolve();
        return new Promise<void>((resolve) => (finishSlow = resolve));
      },
      (channel) => skipped.push(channel),
      10,
    );
    wheel.add('room:slow');
    wheel.add('room:fast');
    wheel.add('room:gone');
    await vi.advanceTimersByTimeAsync(2000);
    expect(started.filter((c) => c === 'room:slow')).toHaveLength(1);
    expect(skipped).toEqual(['room:slow']);
    finishSlow();
    wheel.delete('room:gone');
    await vi.advanceTimersByTimeAsync(1000);
    wheel.stop();
    expect(started.filter((c) => c === 'room:slow')).toHaveLength(2);
    expect(started.filter((c) => c === 'room:fast')).toHaveLength(3);
    expect(started.filter((c) => c === 'room:gone')).toHaveLength(2);
  });
});

const counts = (more = false): UpdateCounts => ({ joins: 0, leaves: 0, resets: 0, suppressedJoins: 0, suppressedLeaves: 0, swept: 0, more, repaired: 0 });

describe('the presence queue', () => {
  /** A runner whose runs each wait for `release()`, recording what they were asked. */
  function gatedRunner(reply: (op: UpdateOp) => UpdateCounts = () => counts()) {
    const runs: Array<{ channel: string; op: UpdateOp; entries: string[] }> = [];
    const gates: Array<() => void> = [];
    const failures: unknown[] = [];
    const run = (channel: string, op: UpdateOp, entries: string[]) => {
      runs.push({ channel, op, entries });
      return new Promise<UpdateCounts>((resolve, reject) => {
        gates.push(() => {
          const failure = failures.shift();
          if (failure) reject(failure);
          else resolve(reply(op));
        });
      });
    };
    const release = async () => {
      gates.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    };
    return { run, runs, release, failures, inFlight: () => gates.length };
  }

  it('sends one run per channel at a time, in order, merging what waited to the latest wish per entry', async () => {
    const runner = gatedRunner();
    const queue = new PresenceQueue(runner.run, { entriesPerRun: 2, maxSweepRuns: 5 });
    const first = queue.update('room:a', 'add', ['x']);
    const waited = [
      queue.update('room:a', 'remove', ['x']),
      queue.update('room:a', 'add', ['y']),
      queue.update('room:a', 'remove', ['y']), // y: add then remove before either went out → remove
      queue.update('room:a', 'add', ['z', 'w', 'v']), // three adds: two runs of at most two
    ];
    const other = queue.update('room:b', 'add', ['q']); // another channel does not wait
    expect(runner.runs).toEqual([
      { channel: 'room:a', op: 'add', entries: ['x'] },
      { channel: 'room:b', op: 'add', entries: ['q'] },
    ]);
    expect(queue.busy('room:a')).toBe(true);
    await runner.release();
    await first;
    await runner.release();
    await other;
    expect(queue.busy('room:b')).toBe(false);
    // Adds first, then removes: each sent only after the previous reply.
    expect(runner.runs.slice(2)).toEqual([{ channel: 'room:a', op: 'add', entries: ['z', 'w'] }]);
    await runner.release();
    expect(runner.runs.slice(3)).toEqual([{ channel: 'room:a', op: 'add', entries: ['v'] }]);
    await runner.release();
    expect(runner.runs.slice(4)).toEqual([{ channel: 'room:a', op: 'remove', entries: ['x', 'y'] }]);
    await runner.release();
    await Promise.all(waited);
    expect(queue.busy('room:a')).toBe(false);
  });

  it('sweeps again at once while a run sweeps a full batch, up to maxSweepRuns', async () => {
    let full = 4;
    const runner = gatedRunner(() => counts(full-- > 0));
    const queue = new PresenceQueue(runner.run, { entriesPerRun: 10, maxSweepRuns: 3 });
    const done = queue.update('room:a', 'add', ['x']);
    for (let i = 0; i < 4; i++) await runner.release();
    await done;
    // The add's run and three sweep-only runs (the cap); the rest waits for the channel's next run.
    expect(runner.runs.map((r) => r.op)).toEqual(['add', 'sweep', 'sweep', 'sweep']);
  });

  it('rejects every caller of a failed run, and goes on with what waited', async () => {
    const runner = gatedRunner();
    const queue = new PresenceQueue(runner.run, { entriesPerRun: 10, maxSweepRuns: 3 });
    runner.failures.push(new Error('NOSCRIPT or worse'));
    const first = queue.update('room:a', 'add', ['x']).then(() => 'applied', (err: Error) => err.message);
    const next = queue.update('room:a', 'remove', ['x']);
    await runner.release();
    expect(await first).toBe('NOSCRIPT or worse');
    await runner.release();
    await expect(next).resolves.toBeUndefined();
    expect(runner.runs.map((r) => r.op)).toEqual(['add', 'remove']);
  });
});
