/**
 * Who may hold a TCP connection to the relay, before any WebSocket exists: a
 * deadline for completing the HTTP request, and caps per client address on
 * open sockets and on sockets that have not authenticated yet (each of those
 * may make ws buffer up to a whole frame before the relay sees it).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../protocol/index.js';
import { addressKey, clientIp } from './client-ip.js';

export interface AdmissionLimits {
  /** Sockets one client address may hold on this relay, authenticated or not. */
  maxPerIp: number;
  /** Of those, sockets that have not authenticated yet. */
  maxPendingPerIp: number;
  /** A connection must complete its HTTP request (the upgrade) within this. */
  handshakeTimeoutMs: number;
  /** Proxies in front that append to X-Forwarded-For (0: the TCP peer is the client). */
  trustProxyHops: number;
}

/** A socket counted against its address until it closes; `authenticated()` ends its pending count. */
export interface Admitted {
  ip: string;
  authenticated(): void;
}

class Counter {
  private readonly counts = new Map<string, number>();
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  add(key: string, delta: number): void {
    const next = this.get(key) + delta;
    if (next <= 0) this.counts.delete(key);
    else this.counts.set(key, next);
  }
}

export class Admission {
  private readonly open = new Counter();
  private readonly pending = new Counter();
  private readonly timers = new WeakMap<Duplex, NodeJS.Timeout>();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly onRefused: (reason: 'handshake_timeout' | 'ip_limit') => void,
  ) {}

  /** Starts the handshake deadline of every new connection, and bounds Node's own request timers by it. */
  watch(server: Server): void {
    const ms = this.limits.handshakeTimeoutMs;
    server.on('connection', (socket: Socket) => {
      const timer = setTimeout(() => {
        this.onRefused('handshake_timeout');
        socket.destroy();
      }, ms);
      timer.unref();
      this.timers.set(socket, timer);
      socket.once('close', () => this.handshakeDone(socket));
    });
    server.headersTimeout = Math.min(server.headersTimeout, ms);
    server.requestTimeout = Math.min(server.requestTimeout || ms, ms);
    server.keepAliveTimeout = Math.min(server.keepAliveTimeout, ms);
  }

  /** The connection completed its request: its deadline no longer applies. */
  handshakeDone(socket: Duplex): void {
    clearTimeout(this.timers.get(socket));
    this.timers.delete(socket);
  }

  /**
   * Counts an upgrading socket against its client address, or refuses it
   * (the socket is answered 429 and destroyed) when the address is at a cap.
   */
  admit(req: IncomingMessage, socket: Duplex): Admitted | null {
    const ip = clientIp(req, this.limits.trustProxyHops);
    const key = addressKey(ip);
    if (this.open.get(key) >= this.limits.maxPerIp || this.pending.get(key) >= this.limits.maxPendingPerIp) {
      this.onRefused('ip_limit');
      rejectUpgrade(socket, 429, 'Too Many Requests', ErrorCode.RateLimited, 'Too many connections from this client address; retry later', 'Retry-After: 10\r\n');
      return null;
    }
    this.open.add(key, 1);
    this.pending.add(key, 1);
    let pending = true;
    const settle = () => {
      if (pending) this.pending.add(key, -1);
      pending = false;
    };
    // Counted until the TCP socket closes, whether or not the handshake completes.
    socket.once('close', () => {
      settle();
      this.open.add(key, -1);
    });
    return { ip, authenticated: settle };
  }
}

/**
 * Answers an upgrade request with an HTTP error and destroys the socket once
 * the answer is written: `end()` alone would leave it half open for as long as
 * the client keeps its side open.
 */
export function rejectUpgrade(socket: Duplex, status: number, text: string, code: string, message: string, extraHeaders = ''): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\n${extraHeaders}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
