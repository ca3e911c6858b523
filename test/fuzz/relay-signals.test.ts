/**
 * Fuzz target 3: signals that cross to the other relay. A sender on one relay
 * and a receiver on the other subscribe to the same channel (the sender's own
 * `user:` channel, or a room); the sender signals generated `data` (nested up
 * to 10,000 deep, big strings, thousands of keys, arbitrary JSON) and events.
 * The receiver must see only well-formed `signal` frames, each one the sender
 * sent and was not refused, in order, with its data intact; plain signals must
 * all arrive; both relays must live and the bystanders keep receiving.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describe as show, eventArb, jsonFragmentArb, renderFragment, type Fragment } from './support/arbitraries.js';
import { FuzzSocket } from './support/fuzz-socket.js';
import { closeProblem, serverFrameProblem, Tally } from './support/oracles.js';
import { fuzzPlan } from './support/plan.js';
import { pool, startFuzzStack, type FuzzStack } from './support/stack.js';

const USERS = Array.from({ length: 24 }, (_, i) => `fz3-u${i}`);
const SESSIONS = 4;
const SIGNALS = 25;
const plan = fuzzPlan(0x5eed_0003, { batch: SESSIONS * SIGNALS, msPerInput: 20 });

interface SignalInput {
  event: string;
  data: Fragment;
}
interface Session {
  room: boolean;
  signals: SignalInput[];
}

const PLAIN_EVENTS = ['typing', 'cursor', 'awareness:update'];
const signalArb: fc.Arbitrary<SignalInput> = fc.record({
  event: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...PLAIN_EVENTS) }, { weight: 1, arbitrary: eventArb }),
  data: jsonFragmentArb,
});
const sessionArb: fc.Arbitrary<Session> = fc.record({ room: fc.boolean(), signals: fc.array(signalArb, { minLength: SIGNALS, maxLength: SIGNALS }) });

/** A signal with an ordinary event and data small and shallow enough that no sane limit refuses it: it must arrive. */
const mustArrive = (signal: SignalInput, text: string) =>
  PLAIN_EVENTS.includes(signal.event) && text.length <= 1000 && (signal.data.f === 'json' || (signal.data.f === 'nest' && signal.data.depth <= 8));

let fuzz: FuzzStack;
let roomId: string;
let sessions = 0;
const tally = new Tally();

beforeAll(async () => {
  fuzz = await startFuzzStack();
  roomId = await fuzz.createRoom('fz3-owner', USERS);
}, 120_000);
afterAll(() => fuzz?.stop());

async function authenticated(relay: number, userId: string, channel: string): Promise<FuzzSocket> {
  const socket = await FuzzSocket.open(fuzz.stack.relayUrls[relay]!);
  socket.sendText(JSON.stringify({ type: 'auth', token: await fuzz.token(userId) }));
  socket.sendText(JSON.stringify({ type: 'subscribe', channel, ref: 'sub' }));
  const reply = await socket.waitFor((f) => f.ref === 'sub', 10_000);
  if (reply?.type !== 'subscribed') throw new Error(`${userId} could not subscribe to ${channel}: ${JSON.stringify(reply)} ${JSON.stringify(socket.endedWith)}`);
  return socket;
}

/** Canonical text of a JSON value; null when it cannot be serialized (nested too deep for this stack). */
function canonical(value: unknown): string | null {
  try {
    return JSON.stringify(value);
  } catch {
    return null;
  }
}

async function runSession(session: Session): Promise<string | null> {
  const n = sessions++;
  const relay = n % 2;
  const sender = USERS[n % USERS.length]!;
  const receiverUser = session.room ? USERS[(n + 1) % USERS.length]! : sender;
  const channel = session.room ? `room:${roomId}` : `user:${sender}`;
  const a = await authenticated(relay, sender, channel);
  const b = await authenticated(1 - relay, receiverUser, channel).catch(async (err) => {
    await a.close();
    throw err;
  });
  try {
    const texts: string[] = [];
    for (const [i, s] of session.signals.entries()) {
      const text = renderFragment(s.data);
      texts.push(text);
      a.sendText(`{"type":"signal","channel":${JSON.stringify(channel)},"event":${JSON.stringify(s.event)},"ref":"s${i}","data":${text}}`);
    }
    // Commands are handled in order: once the ping is answered, every signal was judged and published.
    a.sendText('{"type":"ping","ref":"flush"}');
    await a.waitFor((f) => f.ref === 'flush', 10_000);
    // Then an end marker that the receiver sees after everything before it (one publisher, one channel).
    let marked = false;
    for (let attempt = 0; attempt < 20 && !a.endedWith && !marked; attempt++) {
      const from = a.received.length;
      a.sendText(`{"type":"signal","channel":${JSON.stringify(channel)},"event":"fuzz.end","data":${n},"ref":"end${attempt}"}`);
      a.sendText(`{"type":"ping","ref":"end${attempt}-flush"}`);
      await a.waitFor((f) => f.ref === `end${attempt}-flush`, 10_000, from);
      const refused = a.received.slice(from).some((r) => (r.value as { ref?: unknown })?.ref === `end${attempt}`);
      if (!refused) marked = true;
      else await new Promise((r) => setTimeout(r, 250)); // rate limited: the budget refills
    }
    if (marked) {
      const end = await b.waitFor((f) => f.type === 'signal' && f.event === 'fuzz.end' && f.data === n, 10_000);
      if (!end) return `the receiver never got the end marker (${JSON.stringify(b.endedWith)})`;
    } else {
      await new Promise((r) => setTimeout(r, 500));
    }

    const refused = new Set(a.frames().filter((f) => f.type === 'error').map((f) => f.ref));
    tally.addSocket(a.received, a.endedWith);
    tally.addSocket(b.received, b.endedWith);
    for (const [who, s] of [['sender', a], ['receiver', b]] as const) {
      for (const r of s.received) {
        const problem = serverFrameProblem(r.value, r.raw);
        if (problem) return `${who}: ${problem}`;
      }
      if (s.endedWith) {
        const problem = closeProblem(s.endedWith);
        if (problem) return `${who}: ${problem}`;
      }
    }
    if (b.endedWith) return `the receiver was disconnected: ${JSON.stringify(b.endedWith)}`;
    // What the receiver got from this sender, in order: the accepted signals, none twice, data intact.
    const expected = session.signals
      .map((signal, i) => ({ i, event: signal.event, text: canonical(JSON.parse(texts[i]!)), mustArrive: mustArrive(signal, texts[i]!) }))
      .filter((x) => !refused.has(`s${x.i}`));
    const got = b.frames().filter((f) => f.type === 'signal' && f.channel === channel && f.userId === sender && f.event !== 'fuzz.end');
    let next = 0;
    for (const frame of got) {
      const text = canonical(frame.data);
      if (text === null) return `the receiver got data nested too deep to serialize (event ${String(frame.event)})`;
      while (next < expected.length && !(expected[next]!.event === frame.event && expected[next]!.text === text)) {
        if (expected[next]!.mustArrive) return `plain signal s${expected[next]!.i} (${texts[expected[next]!.i]!.slice(0, 80)}) was accepted but not delivered in order`;
        next++;
      }
      if (next === expected.length) return `the receiver got a signal the sender did not send, twice, or out of order: ${JSON.stringify(frame).slice(0, 200)}`;
      next++;
    }
    const lost = marked ? expected.slice(next).find((x) => x.mustArrive) : undefined;
    if (lost) return `plain signal s${lost.i} (${texts[lost.i]!.slice(0, 80)}) was accepted but never delivered`;
    return null;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

it(`signals with hostile data cross relays intact or are refused (${plan.label})`, async () => {
  fuzz.bystanders.begin();
  let thrown = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(sessionArb, { minLength: SESSIONS, maxLength: SESSIONS }), async (batch) => {
      const problems: string[] = [];
      await pool(batch, SESSIONS, async (session) => {
        const problem = await runSession(session).catch((err: Error) => `test harness error: ${err.message}`);
        if (problem) problems.push(`${problem}\n    session: ${show(session, 3000)}`);
      });
      thrown += batch.length * SIGNALS;
      fuzz.verdict(problems, `of a batch of ${batch.length} sessions (${thrown} signals so far)`);
    }),
    plan.live,
  );
  const { ticks, maxLagMs } = await fuzz.bystanders.check();
  fuzz.assertRelaysAlive('at the end');
  console.info(`signals: ${thrown} signals, seed ${plan.seed}; bystanders got ${ticks} ticks, worst lag ${maxLagMs} ms\n  outcomes: ${tally}`);
  if (!plan.replaying) expect(thrown).toBe(plan.inputs);
}, plan.timeoutMs);
