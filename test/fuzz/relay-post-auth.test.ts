/**
 * Fuzz target 2: frames after a valid auth. Every command type the protocol
 * lists (so new ones are covered) with generated members, unknown and wrong
 * types, frames nested up to 10,000 deep, thousands of keys, bad channels,
 * signals with arbitrary data, text that is not UTF-8 and binary frames.
 * Frames go out in chunks, each followed by a `ping` sentinel that must come
 * back last, which keeps every connection inside the relay's frame rate and
 * queue limits: a 4008 here is the relay's verdict on the input, not on our pace.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLIENT_FRAME_TYPES } from '../../protocol/index.js';
import { describe as show, frameArb, renderFrame, type FrameContext, type FrameRecipe } from './support/arbitraries.js';
import { FuzzSocket } from './support/fuzz-socket.js';
import { closeProblem, serverFrameProblem, Tally } from './support/oracles.js';
import { fuzzPlan } from './support/plan.js';
import { pool, startFuzzStack, type FuzzStack } from './support/stack.js';

const USERS = Array.from({ length: 16 }, (_, i) => `fz2-u${i}`);
const CONNECTIONS = 4;
const FRAMES = 25;
/** Frames between two sentinels. */
const CHUNK = 8;
const plan = fuzzPlan(0x5eed_0002, { batch: CONNECTIONS * FRAMES, msPerInput: 15 });

type PostAuthInput = { k: 'frame'; frame: FrameRecipe } | { k: 'not-utf8'; bytes: Uint8Array } | { k: 'binary'; bytes: Uint8Array };

const inputArb: fc.Arbitrary<PostAuthInput> = fc.oneof(
  { weight: 60, arbitrary: frameArb(CLIENT_FRAME_TYPES, USERS).map((frame): PostAuthInput => ({ k: 'frame', frame })) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('not-utf8' as const), bytes: fc.uint8Array({ maxLength: 40 }).map((b) => Uint8Array.from([...b, 0xff])) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('binary' as const), bytes: fc.uint8Array({ maxLength: 40 }) }) },
);

/** One connection's session: channels subscribed first (so signals and presence go through), then the frames. */
const sessionArb = fc.record({
  setup: fc.subarray(['own-user', 'room0', 'room1'] as const),
  inputs: fc.array(inputArb, { minLength: FRAMES, maxLength: FRAMES }),
});

type Session = { setup: Array<'own-user' | 'room0' | 'room1'>; inputs: PostAuthInput[] };

let fuzz: FuzzStack;
const tally = new Tally();
let rooms: string[];
let sessions = 0;

beforeAll(async () => {
  fuzz = await startFuzzStack();
  rooms = [];
  for (let i = 0; i < 2; i++) rooms.push(await fuzz.createRoom('fz2-owner', USERS));
}, 120_000);
afterAll(() => fuzz?.stop());

async function authenticated(relay: number, userId: string): Promise<FuzzSocket> {
  const socket = await FuzzSocket.open(fuzz.stack.relayUrls[relay]!);
  socket.sendText(JSON.stringify({ type: 'auth', token: await fuzz.token(userId) }));
  const welcome = await socket.waitFor((f) => f.type === 'welcome', 10_000);
  if (!welcome) throw new Error(`auth as ${userId} failed: ${JSON.stringify(socket.endedWith)}`);
  return socket;
}

/** Runs one session; returns what went wrong, or null. Reconnects when the relay closes the socket. */
async function runSession(session: Session): Promise<string | null> {
  const n = sessions++;
  const relay = n % 2;
  const userId = USERS[n % USERS.length]!;
  const ctx: FrameContext = { userId, rooms, foreignRoom: fuzz.bystanders.roomId, tokens: fuzz.tokens };
  const sockets: FuzzSocket[] = [];
  try {
    let socket = await authenticated(relay, userId);
    sockets.push(socket);
    for (const s of session.setup) {
      const channel = s === 'own-user' ? `user:${userId}` : `room:${rooms[s === 'room0' ? 0 : 1]}`;
      socket.sendText(JSON.stringify({ type: 'subscribe', channel, ref: `setup-${s}` }));
      const reply = await socket.waitFor((f) => f.ref === `setup-${s}`, 10_000);
      if (reply?.type !== 'subscribed') return `could not subscribe to ${channel}: ${JSON.stringify(reply)}`;
    }
    for (let start = 0; start < session.inputs.length; start += CHUNK) {
      if (socket.endedWith) {
        socket = await authenticated(relay, userId);
        sockets.push(socket);
      }
      for (const input of session.inputs.slice(start, start + CHUNK)) {
        if (input.k === 'frame') socket.sendText(await renderFrame(input.frame, ctx));
        else if (input.k === 'not-utf8') socket.sendTextBytes(input.bytes);
        else socket.sendBinary(input.bytes);
      }
      const ref = `sentinel-${start}`;
      socket.sendText(JSON.stringify({ type: 'ping', ref }));
      const pong = await socket.waitFor((f) => f.ref === ref, 10_000);
      if (!pong && !socket.endedWith) return `no answer to the sentinel after frames ${start}..${start + CHUNK - 1} within 10 s`;
      if (pong && pong.type !== 'pong') return `the sentinel got ${JSON.stringify(pong).slice(0, 200)}`;
    }
    for (const s of sockets) {
      tally.addSocket(s.received, s.endedWith);
      for (const r of s.received) {
        const problem = serverFrameProblem(r.value, r.raw);
        if (problem) return problem;
      }
      if (s.endedWith) {
        const problem = closeProblem(s.endedWith);
        if (problem) return problem;
      }
    }
    return null;
  } finally {
    await Promise.all(sockets.map((s) => s.close()));
  }
}

it(`relay survives hostile frames after auth (${plan.label})`, async () => {
  fuzz.bystanders.begin();
  let thrown = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(sessionArb, { minLength: CONNECTIONS, maxLength: CONNECTIONS }), async (batch) => {
      const problems: string[] = [];
      await pool(batch, CONNECTIONS, async (session) => {
        const problem = await runSession(session).catch((err: Error) => `test harness error: ${err.message}`);
        if (problem) problems.push(`${problem}\n    session: ${show(session, 3000)}`);
      });
      thrown += batch.length * FRAMES;
      fuzz.verdict(problems, `of a batch of ${batch.length} sessions (${thrown} frames so far)`);
    }),
    plan.live,
  );
  const { ticks, maxLagMs } = await fuzz.bystanders.check();
  fuzz.assertRelaysAlive('at the end');
  console.info(`post-auth: ${thrown} frames, seed ${plan.seed}; bystanders got ${ticks} ticks, worst lag ${maxLagMs} ms\n  outcomes: ${tally}`);
  if (!plan.replaying) expect(thrown).toBe(plan.inputs);
}, plan.timeoutMs);
