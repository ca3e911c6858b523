/**
 * The SDK under faults: SDK clients (Node, `ws` injected) that record what
 * the app sees, a publisher sending numbered messages at a steady rate over
 * the HTTP API, a TCP proxy that can go silent, and the figures each fault
 * case reports (sent, received, gaps, duplicates, order, time to recover).
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import { Townsquare, type Message, type TownsquareOptions, type WebSocketConstructor } from '../../client/src/index.js';
import type { LocalStack } from '../../local/stack.js';

// `ws` fits the SDK's WebSocket option as it is (no cast): the type check proves it.
export const NodeWebSocket: WebSocketConstructor = WebSocket;

/** What one SDK client's app saw on one channel. */
export class RecordingClient {
  readonly client: Townsquare;
  /** The `text` of every chat message delivered, in delivery order. */
  readonly texts: string[] = [];
  readonly seqs: number[] = [];
  readonly deliveredAt: number[] = [];
  readonly gaps: Array<{ fromSeq: number; toSeq: number }> = [];
  readonly errors: string[] = [];
  readonly states: string[] = [];
  readonly subscribedEvents: Array<{ at: number; recovered: boolean; resubscribed: boolean }> = [];

  constructor(
    readonly name: string,
    options: Omit<TownsquareOptions, 'WebSocket'>,
    channel: string,
  ) {
    this.client = new Townsquare({ WebSocket: NodeWebSocket, browserEvents: false, ...options });
    this.client.on('error', (e) => this.errors.push(`${e.kind}: ${e.message}`));
    this.client.on('state', (s) => this.states.push(`${s.state}${s.code ? `(${s.code})` : ''}`));
    const sub = this.client.subscribe(channel);
    sub.on('message', (m: Message) => {
      this.seqs.push(m.seq);
      this.texts.push((m.data as { text: string }).text);
      this.deliveredAt.push(Date.now());
    });
    sub.on('gap', (g) => this.gaps.push(g));
    sub.on('subscribed', (e) => this.subscribedEvents.push({ at: Date.now(), recovered: e.recovered, resubscribed: e.resubscribed }));
    this.client.connect();
  }

  /**
   * Time to recover: the longest any message waited between being stored
   * (its send acknowledged) and reaching the app. Without a fault it is a few
   * tens of ms; a fault makes it as long as the client took to come back and catch up.
   */
  recoveryMs(ackedAt: number[]): number | null {
    let worst = 0;
    for (let i = 0; i < this.texts.length; i++) {
      const k = Number(this.texts[i]!.slice(1));
      const acked = ackedAt[k - 1];
      if (acked === undefined) return null;
      worst = Math.max(worst, this.deliveredAt[i]! - acked);
    }
    return worst;
  }

  /** Duplicates, missing numbers and order breaks against 1..n. */
  audit(n: number) {
    const seen = new Set<string>();
    let duplicates = 0;
    let outOfOrder = 0;
    let previous = 0;
    for (const text of this.texts) {
      if (seen.has(text)) duplicates++;
      seen.add(text);
      const k = Number(text.slice(1));
      if (k <= previous) outOfOrder++;
      previous = Math.max(previous, k);
    }
    let missing = 0;
    for (let k = 1; k <= n; k++) if (!seen.has(`m${k}`)) missing++;
    return { received: this.texts.length, missing, duplicates, outOfOrder, exact: this.texts.join(',') === Array.from({ length: n }, (_, i) => `m${i + 1}`).join(',') };
  }
}

/**
 * Sends m1..mN into `roomId` through the SDK's send (HTTP, generated
 * clientMessageId, retried), one every `intervalMs`; resolves once all are
 * acknowledged, with when each was acknowledged (stored).
 */
export async function publish(publisher: Townsquare, roomId: string, count: number, intervalMs: number, onSent?: (k: number) => void): Promise<{ ackedAt: number[]; maxSendMs: number }> {
  const ackedAt: number[] = [];
  const acks: Array<Promise<unknown>> = [];
  let maxSendMs = 0;
  const start = Date.now();
  for (let k = 1; k <= count; k++) {
    const due = start + (k - 1) * intervalMs;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sent = Date.now();
    acks.push(
      publisher.send(roomId, `m${k}`).then(() => {
        ackedAt[k - 1] = Date.now();
        maxSendMs = Math.max(maxSendMs, ackedAt[k - 1]! - sent);
      }),
    );
    onSent?.(k);
  }
  await Promise.all(acks);
  return { ackedAt, maxSendMs };
}

/** Waits until every client delivered `n` messages (or the deadline passes). */
export async function waitForAll(clients: RecordingClient[], n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (clients.some((c) => c.texts.length < n) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** A TCP proxy in front of a relay that can stop forwarding without closing anything (a dead route, a sleeping laptop). */
export async function startSilenceableProxy(targetPort: number): Promise<{ port: number; wsUrl: string; silence(): void; resume(): void; close(): Promise<void> }> {
  let silent = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => sockets.delete(client));
    if (silent) return; // accept and say nothing, ever
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => sockets.delete(upstream));
    client.on('data', (chunk) => {
      if (!silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!silent) client.write(chunk);
    });
    client.on('close', () => {
      if (!silent) upstream.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    silence() {
      silent = true;
    },
    /** New connections are forwarded again (silenced ones stay dead). */
    resume() {
      silent = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A room with `members`, created by `owner` over the HTTP API. */
export async function createRoom(stack: LocalStack, owner: string, members: string[], name: string): Promise<string> {
  const api = new Townsquare({ relayUrls: stack.relayUrls, apiUrl: stack.apiUrl, getToken: () => stack.issuer.mint(owner), WebSocket: NodeWebSocket, browserEvents: false });
  const room = await api.rooms.create(name);
  for (const member of members) await api.rooms.addMember(room.roomId, member);
  api.close();
  return room.roomId;
}

/** One fault case's figures, printed as one machine-readable line (`SDK_FAULT_CASE {json}`). */
export function report(name: string, sent: number, clients: RecordingClient[], published: { ackedAt: number[]; maxSendMs: number }, extra: Record<string, unknown> = {}) {
  const figures = {
    case: name,
    sent,
    publisherMaxSendMs: published.maxSendMs,
    ...extra,
    clients: clients.map((c) => {
      const a = c.audit(sent);
      return { client: c.name, received: a.received, gaps: a.missing, duplicates: a.duplicates, outOfOrder: a.outOfOrder, gapEvents: c.gaps.length, recoveryMs: c.recoveryMs(published.ackedAt), states: c.states.join('>') };
    }),
  };
  console.log(`SDK_FAULT_CASE ${JSON.stringify(figures)}`);
  return figures;
}
