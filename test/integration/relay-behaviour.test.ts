/**
 * Relay limits and timers end to end, on relay processes (the production
 * bundle) started with short settings: heartbeat termination of a client that
 * stops answering pings, the authentication deadline, what a socket may send
 * before it is welcomed, binary frames, the subscription cap, the signal rate
 * crossing relays, and close 1013 while the token issuer's keys cannot be
 * fetched. Clients that must misbehave at the protocol level speak WebSocket
 * over a raw TCP socket.
 */
import { createServer, type Server } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, ErrorCode, shouldReconnect } from '../../protocol/index.js';
import { freePort } from '../../local/redis-server.js';
import { startRelayProcess, type RelayProcess } from '../../local/relay-process.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { apiClient } from '../helpers/api.js';
import { numsub } from '../helpers/redis.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

const HEARTBEAT_MS = 400;
const AUTH_TIMEOUT_MS = 600;
const MAX_SUBSCRIPTIONS = 3;
const SIGNAL_RATE = 5; // bursts of 10
/** The relay's fixed pre-auth bounds (socket-relay/server.ts). */
const PRE_AUTH_MAX_BYTES = 16 * 1024;
const PRE_AUTH_MAX_FRAMES = 16;

let stack: LocalStack;
/** Two relays with short limits (sharing Redis; heartbeats short on the first), and one whose JWKS URL points at a closed port. */
let relays: RelayProcess[] = [];
let keyless: RelayProcess;
let jwksPort: number;
const clients: TestClient[] = [];
const raws: RawSocket[] = [];
const token = (sub: string) => stack.issuer.mint(sub);
const connect = async (relay: RelayProcess, sub: string) => {
  const client = await TestClient.connect(relay.wsUrl, await token(sub));
  clients.push(client);
  return client;
};
async function disconnects(relay: RelayProcess, reason: string): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  return Number(new RegExp(`^relay_disconnects_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json', relays: 0 });
  const limits = {
    ...stack.relayEnv,
    HEARTBEAT_MS: String(HEARTBEAT_MS),
    AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS),
    MAX_SUBSCRIPTIONS: String(MAX_SUBSCRIPTIONS),
    SIGNAL_RATE: String(SIGNAL_RATE),
  };
  jwksPort = await freePort();
  [relays[0], relays[1], keyless] = await Promise.all([
    startRelayProcess(limits),
    // Heartbeats slower than the auth deadline: a socket stuck mid-frame cannot answer pings.
    startRelayProcess({ ...limits, HEARTBEAT_MS: String(10 * AUTH_TIMEOUT_MS) }),
    startRelayProcess({ ...stack.relayEnv, JWT_JWKS_URL: `http://127.0.0.1:${jwksPort}/jwks` }),
  ]);
});
afterAll(async () => {
  for (const raw of raws) raw.socket.destroy();
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await Promise.all([...relays, keyless].filter(Boolean).map((r) => r.stop('SIGKILL')));
  await stack?.stop();
});

interface WireFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket client on a bare TCP socket: it sends exactly the bytes a test
 * asks for (several frames in one write, binary, half a frame), answers a
 * ping only while `answerPings` is set, and never answers a close frame.
 */
class RawSocket {
  readonly frames: WireFrame[] = [];
  /** Resolves with the socket's lifetime in ms (from the upgrade request) once the relay drops it. */
  readonly ended: Promise<number>;
  /** Like any WebSocket client by default, so that only the heartbeat test's silent client is cut off by heartbeats. */
  answerPings = true;
  private pending = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(
    readonly socket: Socket,
    readonly openedAt: number,
  ) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve(Date.now() - openedAt)));
    socket.on('error', () => {});
  }

  static async open(url: string): Promise<RawSocket> {
    const { hostname, port } = new URL(url);
    const socket = tcpConnect(Number(port), hostname);
    const raw = new RawSocket(socket, Date.now());
    raws.push(raw);
    socket.write(
      [
        'GET /ws HTTP/1.1',
        `Host: ${hostname}:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        '',
        '',
      ].join('\r\n'),
    );
    let head = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!status.includes(' 101 ')) return reject(new Error(`upgrade refused: ${status}`));
        socket.on('data', (more: Buffer) => raw.receive(more));
        raw.receive(head.subarray(end + 4));
        resolve();
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('closed during the upgrade')));
    });
    return raw;
  }

  /** One client frame (masked, as RFC 6455 requires of clients). */
  static frame(payload: string | Buffer, opcode = 0x1): Buffer {
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const length =
      data.length < 126
        ? Buffer.from([0x80 | data.length])
        : data.length < 65536
          ? Buffer.from([0x80 | 126, data.length >> 8, data.length & 0xff])
          : Buffer.concat([Buffer.from([0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(data.length)); return b; })()]);
    const mask = randomBytes(4);
    const masked = Buffer.from(data.map((byte, i) => byte ^ mask[i % 4]!));
    return Buffer.concat([Buffer.from([0x80 | opcode]), length, mask, masked]);
  }

  /** Writes frames in one TCP write, so the relay reads them together. */
  write(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** Text frames received, parsed. */
  get texts(): Frame[] {
    return this.frames.filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString()) as Frame);
  }

  /** The close frame's code and reason, if the relay sent one. */
  get close(): { code: number; reason: string } | null {
    const frame = this.frames.find((f) => f.opcode === 0x8);
    return frame ? { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() } : null;
  }

  async until(check: () => boolean, timeoutMs = 5000): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw socket: condition not met within ${timeoutMs} ms; got ${JSON.stringify(this.texts)}`)), timeoutMs);
      this.waiters.push(() => {
        if (!check()) return;
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private receive(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.pending.length < 2) break;
      const opcode = this.pending[0]! & 0x0f;
      let length = this.pending[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.pending.length < 4) break;
        length = this.pending.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.pending.length < 10) break;
        length = Number(this.pending.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.pending.length < offset + length) break;
      const payload = this.pending.subarray(offset, offset + length);
      this.pending = this.pending.subarray(offset + length);
      this.frames.push({ opcode, payload });
      if (opcode === 0x9 && this.answerPings) this.write(RawSocket.frame(payload, 0xa));
    }
    for (const waiter of [...this.waiters]) waiter();
  }
}

const authFrame = async (sub: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'auth', token: await token(sub), ...extra });

describe('heartbeat', () => {
  it('terminates a client that stops answering pings within two heartbeats, and keeps one that answers', async () => {
    const before = await disconnects(relays[0]!, 'heartbeat');
    const watcher = await connect(relays[0]!, 'hb-watcher'); // ws answers pings on its own
    const [silent, answering] = await Promise.all([RawSocket.open(relays[0]!.wsUrl), RawSocket.open(relays[0]!.wsUrl)]);
    silent.answerPings = false;
    silent.write(RawSocket.frame(await authFrame('hb-silent')));
    answering.write(RawSocket.frame(await authFrame('hb-answering')));
    await silent.until(() => silent.texts.some((f) => f.type === 'welcome'));
    await answering.until(() => answering.texts.some((f) => f.type === 'welcome'));

    const lifetime = await silent.ended;
    // The first tick pings it, the next finds no pong: more than one interval, at most two (plus a loaded machine's lag).
    expect(lifetime).toBeGreaterThan(HEARTBEAT_MS * 0.9);
    expect(lifetime).toBeLessThan(2 * HEARTBEAT_MS + 1500);
    expect(silent.frames.filter((f) => f.opcode === 0x9).length).toBeGreaterThanOrEqual(1);
    // Terminated (the peer is presumed gone), not closed with a handshake.
    expect(silent.close).toBeNull();
    expect(await disconnects(relays[0]!, 'heartbeat')).toBe(before + 1);

    // The one that answers outlives several more heartbeats, pinged each time.
    await answering.until(() => answering.frames.filter((f) => f.opcode === 0x9).length >= 4, 4 * HEARTBEAT_MS + 3000);
    answering.write(RawSocket.frame(JSON.stringify({ type: 'ping', ref: 'still-here' })));
    await answering.until(() => answering.texts.some((f) => f.ref === 'still-here'));
    expect(answering.close).toBeNull();
    expect((await watcher.request({ type: 'ping' })).type).toBe('pong');
    expect(await disconnects(relays[0]!, 'heartbeat')).toBe(before + 1);
    answering.socket.destroy();
  });
});

describe('before authentication', () => {
  it('closes a socket that sends no auth frame within AUTH_TIMEOUT_MS with 4002 (reconnect and authenticate at once)', async () => {
    const startedAt = Date.now();
    const idle = await TestClient.open(relays[0]!.wsUrl);
    // Half a frame header: bytes arrived, but no frame, so the deadline still holds.
    const partial = await RawSocket.open(relays[1]!.wsUrl);
    partial.answerPings = false; // a pong now would be read as the rest of that frame
    partial.socket.write(Buffer.from([0x81, 0xfe]));
    const closed = await idle.closed;
    expect(closed).toEqual({ code: CloseCode.AuthTimeout, reason: 'no auth frame in time' });
    // A slow link or a token fetched late is not the client's fault for good.
    expect(shouldReconnect(closed.code)).toBe(true);
    const elapsed = Date.now() - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(AUTH_TIMEOUT_MS + 2000);
    await partial.until(() => partial.close !== null);
    expect(partial.close).toEqual({ code: CloseCode.AuthTimeout, reason: 'no auth frame in time' });
    // It never answered the close frame; the relay does not wait for it.
    expect(await partial.ended).toBeLessThan(AUTH_TIMEOUT_MS + 3000);
  });

  it('keeps an authenticated socket past the deadline', async () => {
    const client = await connect(relays[1]!, 'deadline-ok');
    await new Promise((r) => setTimeout(r, AUTH_TIMEOUT_MS * 2));
    expect((await client.request({ type: 'ping' })).type).toBe('pong');
  });

  it(`answers ${PRE_AUTH_MAX_FRAMES} frames pipelined behind the auth frame, and closes with the policy code at one more`, async () => {
    const pings = (n: number) => Array.from({ length: n }, (_, i) => RawSocket.frame(JSON.stringify({ type: 'ping', ref: i })));
    const within = await RawSocket.open(relays[0]!.wsUrl);
    within.write(RawSocket.frame(await authFrame('pipeliner')), ...pings(PRE_AUTH_MAX_FRAMES));
    await within.until(() => within.texts.length === PRE_AUTH_MAX_FRAMES + 1);
    expect(within.texts.map((f) => f.type)).toEqual(['welcome', ...Array(PRE_AUTH_MAX_FRAMES).fill('pong')]);
    expect(within.texts.slice(1).map((f) => f.ref)).toEqual(Array.from({ length: PRE_AUTH_MAX_FRAMES }, (_, i) => i));
    within.socket.destroy();

    const over = await RawSocket.open(relays[0]!.wsUrl);
    over.write(RawSocket.frame(await authFrame('pipeliner')), ...pings(PRE_AUTH_MAX_FRAMES + 1));
    await over.ended;
    expect(over.close).toEqual({ code: CloseCode.PolicyViolation, reason: 'too many frames before authentication' });
    expect(shouldReconnect(CloseCode.PolicyViolation)).toBe(false);
    // Refused before verification finished: no welcome, nothing answered.
    expect(over.texts).toEqual([]);
  });

  it(`closes with the unauthorized code an auth frame over ${PRE_AUTH_MAX_BYTES} bytes, even carrying a valid token`, async () => {
    const frame = await authFrame('big-auth');
    // JSON allows whitespace after the value: pad a valid auth frame to exactly the bound, then one byte more.
    const atBound = await TestClient.open(relays[0]!.wsUrl);
    clients.push(atBound);
    atBound.send(frame.padEnd(PRE_AUTH_MAX_BYTES, ' '));
    expect(await atBound.next((f) => f.type === 'welcome')).toMatchObject({ userId: 'big-auth' });

    const over = await TestClient.open(relays[0]!.wsUrl);
    over.send(frame.padEnd(PRE_AUTH_MAX_BYTES + 1, ' '));
    expect(await over.closed).toEqual({ code: CloseCode.Unauthorized, reason: 'auth frame too large' });
    expect(over.frames).toEqual([]);
  });
});

describe('binary frames', () => {
  it('closes with the policy code a binary frame before authentication, even pipelined behind a valid auth frame', async () => {
    const first = await TestClient.open(relays[0]!.wsUrl);
    first.ws.send(Buffer.from(JSON.stringify({ type: 'auth', token: await token('binary-user') })), { binary: true });
    expect(await first.closed).toEqual({ code: CloseCode.PolicyViolation, reason: 'binary frames are not supported' });
    expect(first.frames).toEqual([]);

    const behind = await RawSocket.open(relays[0]!.wsUrl);
    behind.write(RawSocket.frame(await authFrame('binary-user')), RawSocket.frame(Buffer.from([1, 2, 3]), 0x2));
    await behind.ended;
    expect(behind.close).toEqual({ code: CloseCode.PolicyViolation, reason: 'binary frames are not supported' });
    expect(behind.texts.filter((f) => f.type === 'welcome')).toEqual([]);
  });

  it('closes with the policy code a binary frame after authentication, and nobody else is affected', async () => {
    const other = await connect(relays[0]!, 'binary-user');
    const client = await connect(relays[0]!, 'binary-user');
    expect((await client.subscribe('user:binary-user')).type).toBe('subscribed');
    client.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    expect(await client.closed).toEqual({ code: CloseCode.PolicyViolation, reason: 'binary frames are not supported' });
    // The same user's other socket, and a new one, carry on.
    expect((await other.request({ type: 'ping' })).type).toBe('pong');
    expect((await (await connect(relays[0]!, 'binary-user')).request({ type: 'ping' })).type).toBe('pong');
  });
});

describe('subscription cap', () => {
  it(`refuses subscription ${MAX_SUBSCRIPTIONS + 1} with too_many_subscriptions and keeps the connection`, async () => {
    const api = apiClient(stack.apiUrl, await token('capped'));
    const rooms: string[] = [];
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) rooms.push(`room:${(await api.post('/rooms', { name: `cap ${i}` })).body.roomId}`);
    const channels = ['user:capped', ...rooms];
    const client = await connect(relays[1]!, 'capped');
    for (const channel of channels.slice(0, MAX_SUBSCRIPTIONS)) expect((await client.subscribe(channel)).type).toBe('subscribed');

    const last = channels[MAX_SUBSCRIPTIONS]!;
    expect(await client.subscribe(last)).toMatchObject({ type: 'error', code: ErrorCode.TooManySubscriptions });
    // Refused before the relay subscribed anything in Redis.
    expect(await numsub(stack.redisUrl!, last)).toBe(0);
    // Subscribing again to a held channel is not a new subscription.
    expect((await client.subscribe(channels[1]!)).type).toBe('subscribed');
    expect((await client.request({ type: 'unsubscribe', channel: channels[2] })).type).toBe('unsubscribed');
    expect((await client.subscribe(last)).type).toBe('subscribed');
    expect(await numsub(stack.redisUrl!, last)).toBe(1);

    const sent = await api.post(`/rooms/${last.slice('room:'.length)}/messages`, { text: 'made it in' });
    expect(sent.status).toBe(201);
    expect(await client.next((f) => f.type === 'message' && f.channel === last)).toMatchObject({ seq: sent.body.seq });
  });
});

describe('signal rate', () => {
  it('delivers across relays exactly the signals within the sender\'s budget, and refills at SIGNAL_RATE per second', async () => {
    const owner = apiClient(stack.apiUrl, await token('signaller'));
    const roomId = (await owner.post('/rooms', { name: 'signals' })).body.roomId as string;
    expect((await owner.post(`/rooms/${roomId}/members`, { userId: 'listener' })).status).toBe(201);
    const channel = `room:${roomId}`;
    const sender = await connect(relays[0]!, 'signaller');
    const listener = await connect(relays[1]!, 'listener');
    expect((await sender.subscribe(channel)).type).toBe('subscribed');
    expect((await listener.subscribe(channel)).type).toBe('subscribed');

    /** Sends `n` signals at once; resolves with the refs the relay accepted (no error) once all are handled. */
    let next = 0;
    const burst = async (n: number): Promise<number[]> => {
      const refs = Array.from({ length: n }, () => next++);
      for (const ref of refs) sender.send({ type: 'signal', channel, event: 'cursor', data: { ref }, ref });
      // Commands of a connection run in order: once the pong is back, every signal was refused or published.
      await sender.request({ type: 'ping' });
      const refused = new Set(sender.frames.filter((f) => f.type === 'error' && f.code === ErrorCode.RateLimited).map((f) => f.ref));
      expect(sender.frames.filter((f) => f.type === 'error' && f.code !== ErrorCode.RateLimited)).toEqual([]);
      return refs.filter((ref) => !refused.has(ref));
    };
    /** A durable message published after the signals: once it reaches the listener, every accepted signal has too. */
    let sentinels = 0;
    const sentinel = async () => {
      const sent = await owner.post(`/rooms/${roomId}/messages`, { text: `sentinel ${++sentinels}` });
      expect(sent.status).toBe(201);
      await listener.next((f) => f.type === 'message' && f.seq === sent.body.seq);
    };
    const received = () => listener.frames.filter((f) => f.type === 'signal').map((f) => (f.data as { ref: number }).ref);

    const first = await burst(25);
    // A burst of twice the rate, plus whatever refilled while 25 commands were handled.
    expect(first.length).toBeGreaterThanOrEqual(2 * SIGNAL_RATE);
    expect(first.length).toBeLessThanOrEqual(2 * SIGNAL_RATE + 1);
    expect(first.slice(0, 2 * SIGNAL_RATE)).toEqual(Array.from({ length: 2 * SIGNAL_RATE }, (_, i) => i));
    await sentinel();
    expect(received()).toEqual(first);
    expect(listener.frames.filter((f) => f.type === 'signal').every((f) => f.userId === 'signaller')).toBe(true);

    // One second later about SIGNAL_RATE more are allowed, not a fresh burst.
    await new Promise((r) => setTimeout(r, 1000));
    const second = await burst(25);
    expect(second.length).toBeGreaterThanOrEqual(SIGNAL_RATE);
    expect(second.length).toBeLessThanOrEqual(SIGNAL_RATE + 2);
    await sentinel();
    expect(received()).toEqual([...first, ...second]);
    // Never echoed to the sender.
    expect(sender.frames.filter((f) => f.type === 'signal')).toEqual([]);
  });
});

describe("when the token issuer's keys cannot be fetched", () => {
  let jwks: Server | undefined;
  afterAll(() => new Promise<void>((resolve) => (jwks ? jwks.close(() => resolve()) : resolve())));

  it('closes with 1013 (reconnect), stays healthy, and welcomes the reconnect once the keys are back', async () => {
    const before = await disconnects(keyless, 'issuer_unavailable');
    const valid = await token('keyless');
    const client = await TestClient.open(keyless.wsUrl);
    client.send({ type: 'auth', token: valid });
    const closed = await client.closed;
    expect(closed).toEqual({ code: CloseCode.TryAgainLater, reason: 'token issuer keys unavailable; retry shortly' });
    expect(shouldReconnect(closed.code)).toBe(true);
    expect(await disconnects(keyless, 'issuer_unavailable')).toBe(before + 1);
    // A token that is not a JWS at all is judged without keys: terminal, not "try later".
    const junk = await TestClient.open(keyless.wsUrl);
    junk.send({ type: 'auth', token: 'not-a-jwt' });
    expect((await junk.closed).code).toBe(CloseCode.Unauthorized);
    // An issuer outage is not the relay's: it stays in service.
    expect((await fetch(`${keyless.url}/healthz`)).status).toBe(200);

    // The issuer comes back on the configured URL; the client reconnects as shouldReconnect told it to.
    jwks = createServer((req, res) => {
      res.writeHead(req.url === '/jwks' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/jwks' ? stack.issuer.jwks : {}));
    });
    await new Promise<void>((resolve) => jwks!.listen(jwksPort, '127.0.0.1', resolve));
    const again = await TestClient.connect(keyless.wsUrl, valid);
    clients.push(again);
    expect(await again.next((f) => f.type === 'welcome')).toMatchObject({ userId: 'keyless' });
  });
});
