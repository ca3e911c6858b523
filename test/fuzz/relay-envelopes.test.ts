/**
 * Fuzz target 4b (live): payloads published straight to Redis on channels the
 * relays are subscribed to, as a broken or hostile publisher would: plain
 * strings, JSON, deep fragments, valid envelopes with mutated members and deep
 * `data`. Watchers on both relays must receive only well-formed frames, each
 * one the protocol's decoder accepts, in publish order, and every unmutated
 * envelope. Junk is also published into the bystanders' room, between their
 * durable messages; both relays must live and the bystanders miss nothing.
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeEnvelope, type Envelope } from '../../protocol/index.js';
import { describe as show } from './support/arbitraries.js';
import { payloadArb, renderPayload, type Payload } from './support/envelopes.js';
import { FuzzSocket } from './support/fuzz-socket.js';
import { closeProblem, serverFrameProblem, Tally } from './support/oracles.js';
import { fuzzPlan } from './support/plan.js';
import { startFuzzStack, type FuzzStack } from './support/stack.js';

const BATCH = 100;
const plan = fuzzPlan(0x5eed_0005, { batch: BATCH, msPerInput: 10 });

let fuzz: FuzzStack;
let redis: Redis;
let channel: string;
let watchers: FuzzSocket[];
const tally = new Tally();

beforeAll(async () => {
  fuzz = await startFuzzStack();
  redis = new Redis(fuzz.stack.redisUrl!);
  const roomId = await fuzz.createRoom('fz4-w0', ['fz4-w1']);
  channel = `room:${roomId}`;
  watchers = [];
  for (const [i, url] of fuzz.stack.relayUrls.entries()) {
    const w = await FuzzSocket.open(url);
    w.sendText(JSON.stringify({ type: 'auth', token: await fuzz.token(`fz4-w${i}`) }));
    w.sendText(JSON.stringify({ type: 'subscribe', channel, ref: 'sub' }));
    if ((await w.waitFor((f) => f.ref === 'sub', 10_000))?.type !== 'subscribed') throw new Error(`watcher ${i} could not subscribe`);
    watchers.push(w);
  }
  // The second watcher's join reaches the first: frames from here on are the fuzzer's.
  if (!(await watchers[0]!.waitFor((f) => f.type === 'join' && f.userId === 'fz4-w1', 10_000))) throw new Error('watcher 0 never saw watcher 1 join');
  for (const w of watchers) cursors.push(w.received.length);
}, 120_000);
afterAll(async () => {
  await Promise.all((watchers ?? []).map((w) => w.close()));
  redis?.disconnect();
  await fuzz?.stop();
});

/** The frame a relay builds from an envelope, as comparable text; null for a revoke or a presence reset (no frame of its own). */
function expectedFrame(envelope: Envelope): string | null {
  if (envelope.kind === 'revoke') return null;
  if (envelope.kind === 'presence') {
    return envelope.event === 'reset' ? null : comparable({ type: envelope.event, channel: envelope.channel, userId: envelope.userId });
  }
  if (envelope.kind === 'message') {
    const { channel: c, seq, id, event, data, ts } = envelope;
    return comparable({ type: 'message', channel: c, seq, id, event, data, ts });
  }
  const { channel: c, event, userId, data } = envelope;
  return comparable({ type: 'signal', channel: c, event, userId, data });
}

function comparable(frame: Record<string, unknown>): string {
  const keys = ['type', 'channel', 'seq', 'id', 'event', 'userId', 'ts', 'data'];
  try {
    return JSON.stringify(keys.filter((k) => k in frame).map((k) => [k, frame[k]]));
  } catch {
    return '<not serializable>';
  }
}

let runs = 0;
/** Per watcher: index of the first frame after the last sentinel it got. */
const cursors: number[] = [];
it(`relay drops bad envelopes from Redis and delivers good ones (${plan.label})`, async () => {
  fuzz.bystanders.begin();
  let thrown = 0;
  let intoBystanders = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(payloadArb(`room:__CHANNEL__`), fc.nat(9)), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const run = runs++;
      const payloads = batch.map(([p, lane]) => {
        const raw = renderPayload(p).split('room:__CHANNEL__').join(channel);
        return { recipe: p, raw, decoded: decodeEnvelope(raw), lane };
      });
      const pipeline = redis.pipeline();
      for (const p of payloads) {
        // One in ten goes into the bystanders' room instead, when it cannot add a durable message there.
        const refused = p.decoded === null || p.decoded.kind === 'signal';
        if (p.lane === 0 && refused) {
          pipeline.publish(fuzz.bystanders.channel, p.raw.split(channel).join(fuzz.bystanders.channel));
          intoBystanders++;
        } else pipeline.publish(channel, p.raw);
      }
      // The sentinel: valid, published last; once a watcher has it, it has everything before it.
      const sentinel = JSON.stringify({ v: 1, kind: 'signal', channel, event: 'fuzz.sentinel', userId: 'fz4-sender', data: run });
      pipeline.publish(channel, sentinel);
      await pipeline.exec();
      thrown += batch.length;

      const expected = payloads.filter((p) => p.lane !== 0 || !(p.decoded === null || p.decoded.kind === 'signal'));
      const problems: string[] = [];
      for (const [i, w] of watchers.entries()) {
        const from = cursors[i]!;
        const end = await w.waitFor((f) => f.event === 'fuzz.sentinel' && f.data === run, 10_000, from);
        if (!end) {
          problems.push(`watcher ${i} never got the sentinel (${JSON.stringify(w.endedWith)})`);
          continue;
        }
        const upTo = w.received.findIndex((r, k) => k >= from && (r.value as { event?: unknown })?.event === 'fuzz.sentinel');
        cursors[i] = upTo + 1;
        const received = w.received.slice(from, upTo);
        tally.addSocket(received, null);
        const problem = received.map((r) => serverFrameProblem(r.value, r.raw)).find((x) => x !== null);
        if (problem) problems.push(`watcher ${i}: ${problem}`);
        const got = received.filter((r) => {
          const v = r.value as { type?: unknown; channel?: unknown };
          return (v.type === 'message' || v.type === 'signal' || v.type === 'join' || v.type === 'leave') && v.channel === channel;
        });
        let next = 0;
        for (const r of got) {
          const text = comparable(r.value as Record<string, unknown>);
          while (next < expected.length) {
            const e = expected[next]!;
            const frame = e.decoded && e.decoded.channel === channel ? expectedFrame(e.decoded) : null;
            if (frame === text) break;
            // An unmutated message or signal with plain data must not be skipped.
            if (frame !== null && e.recipe.p === 'envelope' && !e.recipe.mutated) {
              problems.push(`watcher ${i}: a valid envelope was not delivered in order: ${e.raw.slice(0, 200)}`);
            }
            next++;
          }
          if (next === expected.length) {
            problems.push(`watcher ${i} got a frame for no envelope the decoder accepts: ${r.raw.slice(0, 200)}`);
            break;
          }
          next++;
        }
        for (; next < expected.length; next++) {
          const e = expected[next]!;
          if (e.recipe.p === 'envelope' && !e.recipe.mutated && expectedFrame(e.decoded!) !== null) {
            problems.push(`watcher ${i}: a valid envelope was never delivered: ${e.raw.slice(0, 200)}`);
          }
        }
        if (w.endedWith) problems.push(`watcher ${i} was disconnected: ${closeProblem(w.endedWith) ?? JSON.stringify(w.endedWith)}`);
      }
      if (!fuzz.relaysAlive()) {
        // A relay died: the culprit is among what it accepted and fanned out; the biggest first.
        const accepted = payloads.filter((p) => p.decoded !== null).sort((x, y) => y.raw.length - x.raw.length);
        for (const p of accepted.slice(0, 3)) problems.push(`accepted payload (${p.raw.length} chars): ${show(p.recipe as Payload, 400)}`);
      }
      fuzz.verdict(problems, `of a batch of ${batch.length} payloads (${thrown} so far)`);
    }),
    plan.live,
  );
  const { ticks, maxLagMs } = await fuzz.bystanders.check();
  fuzz.assertRelaysAlive('at the end');
  console.info(`envelopes: ${thrown} payloads (${intoBystanders} into the bystanders' room), seed ${plan.seed}; bystanders got ${ticks} ticks, worst lag ${maxLagMs} ms\n  delivered: ${tally}`);
  if (!plan.replaying) expect(thrown).toBe(plan.inputs);
}, plan.timeoutMs);
