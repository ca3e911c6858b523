/**
 * The local stack for a fuzz target (two relay processes running the production
 * bundle, a real redis-server, dynalite, the API Gateway stand-in with the real
 * handlers), with the checks every target ends with: both relay processes still
 * run, and the bystanders received every durable message.
 */
import { startLocalStack, type LocalStack } from '../../../local/stack.js';
import { apiClient } from '../../helpers/api.js';
import { FuzzSocket } from './fuzz-socket.js';
import { serverFrameProblem } from './oracles.js';
import { TokenFactory } from './tokens.js';

const KEY_FILE = '.local/test-keys.json';
/** Lines of relay output kept for failure messages (a crash prints its stack there). */
const LOG_LINES = 80;
/** How often the bystanders' room gets a durable message. */
const TICK_MS = 100;
/** Members who take turns sending the ticks: each stays well inside a per-user send rate (5/s by default). */
const TICK_SENDERS = ['bystander-s0', 'bystander-s1', 'bystander-s2', 'bystander-s3'];
/**
 * Longest a bystander may wait for a durable message while a target runs. Generous for a
 * shared 2-core machine; a relay that stalls or starves its sockets exceeds it.
 */
export const MAX_BYSTANDER_LAG_MS = Number(process.env.FUZZ_MAX_LAG_MS ?? 5000);

export interface FuzzStack {
  stack: LocalStack;
  tokens: TokenFactory;
  /** A valid token for `sub` (cached; 1 h). */
  token(sub: string): Promise<string>;
  api(sub: string): Promise<ReturnType<typeof apiClient>>;
  relayPorts: number[];
  /** Creates a room owned by `owner` with `members` added; returns its id. */
  createRoom(owner: string, members: readonly string[]): Promise<string>;
  /** Throws, with the relays' last output, when a relay process is gone. */
  assertRelaysAlive(context: string): void;
  relaysAlive(): boolean;
  /**
   * Ends a batch: throws when a relay process is gone (with its last output) or when
   * `problems` is not empty, listing the first few; the inputs are in the problems.
   */
  verdict(problems: readonly string[], what: string): void;
  logTail(): string;
  bystanders: Bystanders;
  stop(): Promise<void>;
}

export async function startFuzzStack(relayEnv: Record<string, string> = {}): Promise<FuzzStack> {
  const lines: string[] = [];
  /** Relay log lines at error or fatal level (pino 50/60): each one is a bug the input found. */
  const errorLines: string[] = [];
  const stack = await startLocalStack({
    buildRelay: false,
    keyFile: KEY_FILE,
    // As in production behind CloudFront and an ALB, so X-Forwarded-For reaches the per-address caps.
    relayEnv: { TRUST_PROXY_HOPS: '2', ...relayEnv },
    log: (text) => {
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        const kept = line.length > 600 ? `${line.slice(0, 600)}…` : line;
        lines.push(kept);
        if (/"level":(50|60)\b/.test(line)) errorLines.push(kept);
      }
      if (lines.length > LOG_LINES) lines.splice(0, lines.length - LOG_LINES);
    },
  });
  if (stack.mode !== 'redis' || stack.relays.length !== 2) throw new Error('the fuzz suite needs redis-server: two relay processes');
  const tokens = await TokenFactory.create(stack.issuer, KEY_FILE);
  const cache = new Map<string, Promise<string>>();
  const token = (sub: string) => {
    let t = cache.get(sub);
    if (!t) cache.set(sub, (t = stack.issuer.mint(sub)));
    return t;
  };
  const api = async (sub: string) => apiClient(stack.apiUrl, await token(sub));
  const logTail = () => lines.slice(-30).join('\n');
  const relaysAlive = () => stack.relays.every((r) => r.child.exitCode === null && r.child.signalCode === null);
  const fuzz: FuzzStack = {
    stack,
    tokens,
    token,
    api,
    relayPorts: stack.relays.map((r) => Number(new URL(r.url).port)),
    async createRoom(owner, members) {
      const client = await api(owner);
      const created = await client.post('/rooms', { name: `fuzz ${owner}` });
      if (created.status !== 201) throw new Error(`POST /rooms: ${created.status} ${JSON.stringify(created.body)}`);
      for (const m of members) {
        const added = await client.post(`/rooms/${created.body.roomId}/members`, { userId: m });
        if (added.status !== 201 && added.status !== 200) throw new Error(`adding ${m}: ${added.status} ${JSON.stringify(added.body)}`);
      }
      return created.body.roomId as string;
    },
    relaysAlive,
    assertRelaysAlive(context) {
      if (relaysAlive()) return;
      const gone = stack.relays
        .map((r, i) => ({ i, pid: r.pid, exit: r.child.exitCode, signal: r.child.signalCode }))
        .filter((r) => r.exit !== null || r.signal !== null);
      throw new Error(`relay process exited ${JSON.stringify(gone)} ${context}\n--- relay output ---\n${logTail()}`);
    },
    verdict(problems, what) {
      const listed = problems.slice(0, 6).map((p) => `  ${p}`).join('\n');
      if (!relaysAlive()) {
        const gone = stack.relays
          .map((r, i) => ({ relay: i, pid: r.pid, exit: r.child.exitCode, signal: r.child.signalCode }))
          .filter((r) => r.exit !== null || r.signal !== null);
        throw new Error(`relay process exited ${JSON.stringify(gone)} ${what}; the batch's failed inputs:\n${listed}\n--- relay output ---\n${logTail()}`);
      }
      if (problems.length > 0) throw new Error(`${problems.length} failed ${what}:\n${listed}`);
      // A relay that logged an error while handling the batch failed on it, even if it answered.
      if (errorLines.length > 0) throw new Error(`the relays logged errors ${what}:\n  ${errorLines.splice(0).slice(0, 4).join('\n  ')}`);
    },
    logTail,
    bystanders: undefined as unknown as Bystanders,
    async stop() {
      await fuzz.bystanders?.close();
      await stack.stop();
    },
  };
  fuzz.bystanders = await Bystanders.start(fuzz);
  return fuzz;
}

/**
 * A client on each relay subscribed to one room, into which a durable message is
 * sent over the HTTP API every 100 ms while a target runs (by members in turn). `check()` then demands
 * that every bystander got every seq, in order, none twice, each within
 * `MAX_BYSTANDER_LAG_MS`, and is still connected.
 */
export class Bystanders {
  private running: Promise<void> | null = null;
  private stopRequested = false;
  /** seq → when the API answered 201. */
  private readonly sentAt = new Map<number, number>();
  private lastSeq = 0;
  private readonly problems: string[] = [];

  private constructor(
    private readonly fuzz: FuzzStack,
    readonly channel: string,
    readonly roomId: string,
    readonly clients: FuzzSocket[],
  ) {}

  static async start(fuzz: FuzzStack): Promise<Bystanders> {
    const roomId = await fuzz.createRoom('bystander-owner', ['bystander-0', 'bystander-1', ...TICK_SENDERS]);
    const channel = `room:${roomId}`;
    const clients: FuzzSocket[] = [];
    for (const [i, url] of fuzz.stack.relayUrls.entries()) {
      const client = await FuzzSocket.open(url);
      client.sendText(JSON.stringify({ type: 'auth', token: await fuzz.token(`bystander-${i}`) }));
      client.sendText(JSON.stringify({ type: 'subscribe', channel, ref: 'bystander' }));
      const reply = await client.waitFor((f) => f.ref === 'bystander', 10_000);
      if (reply?.type !== 'subscribed') throw new Error(`bystander ${i} could not subscribe: ${JSON.stringify(reply)}`);
      clients.push(client);
    }
    return new Bystanders(fuzz, channel, roomId, clients);
  }

  /** Starts the ticks. */
  begin(): void {
    if (this.running) return;
    this.stopRequested = false;
    this.running = (async () => {
      const senders = await Promise.all(TICK_SENDERS.map((u) => this.fuzz.api(u)));
      for (let turn = 0; !this.stopRequested; turn++) {
        const started = Date.now();
        const api = senders[turn % senders.length]!;
        try {
          const sent = await api.post(`/rooms/${this.roomId}/messages`, { text: `tick ${this.lastSeq + 1}` });
          if (sent.status === 201) {
            this.sentAt.set(sent.body.seq, Date.now());
            this.lastSeq = Math.max(this.lastSeq, sent.body.seq);
          } else {
            this.problems.push(`bystander tick answered ${sent.status} ${JSON.stringify(sent.body).slice(0, 200)}`);
          }
        } catch (err) {
          this.problems.push(`bystander tick failed: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, Math.max(0, TICK_MS - (Date.now() - started))));
      }
    })();
  }

  /** Stops the ticks and checks every bystander; returns how many ticks and the worst lag. */
  async check(): Promise<{ ticks: number; maxLagMs: number }> {
    this.stopRequested = true;
    await this.running;
    this.running = null;
    const problems = [...this.problems];
    this.problems.length = 0;
    const last = this.lastSeq;
    let maxLagMs = 0;
    for (const [i, client] of this.clients.entries()) {
      const hasAll = () => {
        const seqs = new Set(client.frames().filter((f) => f.type === 'message' && f.channel === this.channel).map((f) => f.seq));
        for (let s = 1; s <= last; s++) if (!seqs.has(s)) return false;
        return true;
      };
      const deadline = Date.now() + 15_000;
      while (!hasAll() && !client.endedWith && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (client.endedWith) problems.push(`bystander ${i} was disconnected: ${JSON.stringify(client.endedWith)}`);
      const messages = client.received.filter((r) => {
        const v = r.value as { type?: unknown; channel?: unknown } | undefined;
        return v?.type === 'message' && v.channel === this.channel;
      });
      const seqs = messages.map((r) => (r.value as { seq: number }).seq);
      const expected = Array.from({ length: last }, (_, k) => k + 1);
      if (seqs.join(',') !== expected.join(',')) {
        const missing = expected.filter((s) => !seqs.includes(s));
        problems.push(`bystander ${i} got ${seqs.length} of ${last} seqs; missing ${missing.slice(0, 20).join(',')}${missing.length > 20 ? '…' : ''}; order ok: ${seqs.every((s, k) => k === 0 || s > seqs[k - 1]!)}`);
      }
      for (const r of client.received) {
        const problem = serverFrameProblem(r.value, r.raw);
        if (problem) problems.push(`bystander ${i}: ${problem}`);
      }
      for (const r of messages) {
        const seq = (r.value as { seq: number }).seq;
        const sent = this.sentAt.get(seq);
        if (sent !== undefined) maxLagMs = Math.max(maxLagMs, r.at - sent);
      }
    }
    if (maxLagMs > MAX_BYSTANDER_LAG_MS) problems.push(`a bystander waited ${maxLagMs} ms for a message (limit ${MAX_BYSTANDER_LAG_MS} ms)`);
    if (problems.length > 0) throw new Error(`bystanders: ${problems.slice(0, 10).join('; ')}\n--- relay output ---\n${this.fuzz.logTail()}`);
    return { ticks: last, maxLagMs };
  }

  async close(): Promise<void> {
    this.stopRequested = true;
    await this.running;
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

/** Runs `task` over `items` with at most `concurrency` at once. */
export async function pool<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
