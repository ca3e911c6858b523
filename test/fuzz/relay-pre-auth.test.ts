/**
 * Fuzz target 1: the first frames on a fresh socket, before authentication.
 * Arbitrary text and JSON, frames nested up to 10,000 deep, thousands of keys,
 * auth frames with junk, forged or odd tokens (then pipelined frames), text
 * that is not UTF-8, binary and oversize frames, hand-built WebSocket frames
 * and junk HTTP upgrades over raw TCP. Every socket must end with a documented
 * close code (or, for a valid token, be welcomed), both relays must live, and
 * the bystanders must receive every durable message meanwhile.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLIENT_FRAME_TYPES } from '../../protocol/index.js';
import {
  describe as show,
  fragmentArb,
  frameArb,
  refArb,
  renderFragment,
  renderFrame,
  type FrameContext,
  type Fragment,
  type FrameRecipe,
} from './support/arbitraries.js';
import { FuzzSocket, rawExchange, UpgradeRefused } from './support/fuzz-socket.js';
import { closeProblem, serverFrameProblem, Tally } from './support/oracles.js';
import { fuzzPlan } from './support/plan.js';
import { pool, startFuzzStack, type FuzzStack } from './support/stack.js';
import { tokenArb, type TokenRecipe } from './support/tokens.js';

const USERS = ['fz1-a', 'fz1-b', 'fz1-c', 'fz1-d'];
const BATCH = 50;
/** Sockets open at once (both relays together). */
const CONCURRENCY = 24;
const plan = fuzzPlan(0x5eed_0001, { batch: BATCH, msPerInput: 15 });

type PreAuthInput =
  | { k: 'frame'; frame: FrameRecipe }
  | { k: 'auth'; token: TokenRecipe | { fragment: Fragment }; ref: unknown; extra: Fragment | null; then: FrameRecipe[] }
  | { k: 'not-utf8'; bytes: Uint8Array }
  | { k: 'binary'; bytes: Uint8Array }
  | { k: 'big'; bytes: number; asAuth: boolean }
  | { k: 'raw-frame'; fin: boolean; rsv: number; opcode: number; masked: boolean; length: 'exact' | 'short' | 'ext16' | 'ext64'; payload: Uint8Array }
  | { k: 'raw-http'; request: string | Uint8Array };

const badUtf8 = fc.constantFrom([0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]);

const upgradeRequest = (path = '/ws', headers: Record<string, string> = {}) =>
  [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    ...Object.entries({ Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13', ...headers }).map(
      ([k, v]) => `${k}: ${v}`,
    ),
    '',
    '',
  ].join('\r\n');

const inputArb: fc.Arbitrary<PreAuthInput> = fc.oneof(
  { weight: 6, arbitrary: frameArb(CLIENT_FRAME_TYPES, USERS).map((frame): PreAuthInput => ({ k: 'frame', frame })) },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('auth' as const),
      token: fc.oneof({ weight: 4, arbitrary: tokenArb(USERS) }, { weight: 1, arbitrary: fragmentArb.map((fragment) => ({ fragment })) }),
      ref: fc.option(refArb, { nil: undefined }),
      extra: fc.option(fragmentArb, { nil: null, freq: 3 }),
      then: fc.array(frameArb(CLIENT_FRAME_TYPES, USERS), { maxLength: 20, size: 'small' }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.uint8Array({ maxLength: 80 }), fc.nat(), badUtf8).map(([bytes, at, bad]): PreAuthInput => {
      const cut = bytes.length === 0 ? 0 : at % bytes.length;
      return { k: 'not-utf8', bytes: Uint8Array.from([...bytes.slice(0, cut), ...bad, ...bytes.slice(cut)]) };
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('binary' as const), bytes: fc.uint8Array({ maxLength: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('big' as const), bytes: fc.integer({ min: 16 * 1024, max: 80 * 1024 }), asAuth: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('raw-frame' as const),
      fin: fc.boolean(),
      rsv: fc.nat(7),
      opcode: fc.nat(15),
      masked: fc.boolean(),
      length: fc.constantFrom('exact' as const, 'short' as const, 'ext16' as const, 'ext64' as const),
      payload: fc.uint8Array({ maxLength: 300 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('raw-http' as const),
      request: fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom('/ws?x=1', '//ws', '/ws/../ws', '/WS', '/ws#a', `/ws?${'a'.repeat(9000)}`, '*').map((p) => upgradeRequest(p)),
        fc
          .record({
            'Sec-WebSocket-Version': fc.constantFrom('13', '8', '', '13, 8', 'x'),
            'Sec-WebSocket-Key': fc.oneof(fc.constant(''), fc.base64String({ maxLength: 40 }), fc.string({ maxLength: 30 })),
            'X-Forwarded-For': fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 100 }), fc.constant('1.1.1.1, '.repeat(400))),
            'Sec-WebSocket-Extensions': fc.constantFrom('permessage-deflate', 'permessage-deflate; client_max_window_bits=8', 'x'.repeat(200), ''),
          })
          .map((headers) => upgradeRequest('/ws', headers)),
      ),
    }),
  },
);

/** A hand-built client frame: header bits, a declared length that may lie, a mask or none. */
function rawFrame(x: Extract<PreAuthInput, { k: 'raw-frame' }>): Uint8Array {
  const bytes: number[] = [(x.fin ? 0x80 : 0) | (x.rsv << 4) | x.opcode];
  const n = x.payload.length;
  const declared = x.length === 'exact' ? n : x.length === 'short' ? n + 10 : x.length === 'ext16' ? 0xffff : 2 ** 40;
  const maskBit = x.masked ? 0x80 : 0;
  if (x.length === 'ext64') bytes.push(maskBit | 127, 0, 0, 1, 0, 0, 0, 0, 0);
  else if (declared < 126) bytes.push(maskBit | declared);
  else if (declared <= 0xffff) bytes.push(maskBit | 126, declared >> 8, declared & 0xff);
  else bytes.push(maskBit | 127, 0, 0, 0, 0, (declared >>> 24) & 0xff, (declared >> 16) & 0xff, (declared >> 8) & 0xff, declared & 0xff);
  const mask = [0x12, 0x34, 0x56, 0x78];
  if (x.masked) bytes.push(...mask);
  for (let i = 0; i < n; i++) bytes.push(x.masked ? x.payload[i]! ^ mask[i % 4]! : x.payload[i]!);
  return Uint8Array.from(bytes);
}

let fuzz: FuzzStack;
const tally = new Tally();
let ctx: FrameContext;

beforeAll(async () => {
  fuzz = await startFuzzStack();
  ctx = { userId: USERS[0]!, rooms: [], foreignRoom: fuzz.bystanders.roomId, tokens: fuzz.tokens };
}, 120_000);
afterAll(() => fuzz?.stop());

/** Sends one input on its own connection; returns what went wrong, or null. */
async function throwOne(input: PreAuthInput, index: number): Promise<string | null> {
  const relay = index % 2;
  if (input.k === 'raw-frame' || input.k === 'raw-http') {
    const request = input.k === 'raw-http' ? input.request : upgradeRequest();
    const bytes = typeof request === 'string' ? Buffer.from(request, 'latin1') : request;
    const outcome = await rawExchange(fuzz.relayPorts[relay]!, bytes, input.k === 'raw-frame' ? rawFrame(input) : null, 300);
    tally.add(`${input.k}:${outcome.status ?? '-'}/${outcome.closeCode ?? '-'}`);
    if (outcome.status !== null && outcome.status >= 500) return `upgrade answered HTTP ${outcome.status}`;
    if (outcome.closeCode !== null && closeProblem({ code: outcome.closeCode, reason: '' })) return `raw frame: closed with undocumented code ${outcome.closeCode}`;
    return null;
  }

  let socket: FuzzSocket;
  try {
    socket = await FuzzSocket.open(fuzz.stack.relayUrls[relay]!);
  } catch (err) {
    return err instanceof UpgradeRefused ? `upgrade refused with HTTP ${err.status}` : `could not connect: ${(err as Error).message}`;
  }
  try {
    let mayBeWelcomed = false;
    switch (input.k) {
      case 'frame':
        socket.sendText(await renderFrame(input.frame, ctx));
        mayBeWelcomed = true; // a generated command may be an auth frame with a valid token
        break;
      case 'auth': {
        const token = 'fragment' in input.token ? renderFragment(input.token.fragment) : JSON.stringify(await fuzz.tokens.render(input.token));
        const ref = input.ref === undefined ? '' : `,"ref":${JSON.stringify(input.ref)}`;
        const extra = input.extra ? `,"x":${renderFragment(input.extra)}` : '';
        socket.sendText(`{"type":"auth","token":${token}${ref}${extra}}`);
        for (const frame of input.then) socket.sendText(await renderFrame(frame, ctx));
        socket.sendText('{"type":"ping","ref":"sentinel"}');
        mayBeWelcomed = true;
        break;
      }
      case 'not-utf8':
        socket.sendTextBytes(input.bytes);
        break;
      case 'binary':
        socket.sendBinary(input.bytes);
        break;
      case 'big': {
        const pad = 'x'.repeat(input.bytes);
        socket.sendText(input.asAuth ? `{"type":"auth","token":"${pad}"}` : pad);
        break;
      }
    }
    // The relay judges the first frame at once; 8 s also covers its 5 s auth deadline.
    const welcome = mayBeWelcomed ? await socket.waitFor((f) => f.type === 'welcome', 8000) : null;
    if (welcome) {
      // Authenticated: the pipelined frames are handled, in order, before the sentinel.
      if (input.k === 'auth') {
        const pong = await socket.waitFor((f) => f.ref === 'sentinel', 8000);
        if (!pong && !socket.endedWith) return 'welcomed, but the pipelined frames were never answered';
      }
    } else {
      const ended = await socket.waitEnded(8000);
      if (!ended) return 'the relay left the socket open after refusing its first frame';
    }
    tally.addSocket(socket.received, socket.endedWith);
    for (const r of socket.received) {
      const problem = serverFrameProblem(r.value, r.raw);
      if (problem) return problem;
    }
    if (socket.endedWith) return closeProblem(socket.endedWith);
    return null;
  } finally {
    await socket.close();
  }
}

it(`relay survives hostile pre-auth frames (${plan.label})`, async () => {
  fuzz.bystanders.begin();
  let thrown = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(inputArb, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const problems: string[] = [];
      await pool(batch, CONCURRENCY, async (input, i) => {
        const problem = await throwOne(input, i).catch((err: Error) => `test harness error: ${err.message}`);
        if (problem) problems.push(`${problem}\n    input: ${show(input)}`);
      });
      thrown += batch.length;
      fuzz.verdict(problems, `of a batch of ${batch.length} inputs (${thrown} so far)`);
    }),
    plan.live,
  );
  const { ticks, maxLagMs } = await fuzz.bystanders.check();
  fuzz.assertRelaysAlive('at the end');
  console.info(`pre-auth: ${thrown} inputs, seed ${plan.seed}; bystanders got ${ticks} ticks, worst lag ${maxLagMs} ms\n  outcomes: ${tally}`);
  if (!plan.replaying) expect(thrown).toBe(plan.inputs);
}, plan.timeoutMs);
