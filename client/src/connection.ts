/**
 * The connection state machine: open a socket to one of the relays,
 * authenticate, keep it alive (heartbeat, token renewal), and reconnect with
 * backoff when it drops — or stop, when the close code says retrying cannot help.
 *
 *   disconnected ──connect()──▶ connecting ──welcome──▶ connected
 *        ▲                          │                      │
 *        └──── backoff timer ◀── closed (reconnectable) ◀──┘
 *   any ──close() or a terminal close code──▶ closed
 */
import { CloseCode, shouldReconnect } from '../../protocol/codes.js';
import type { ServerFrame } from '../../protocol/frames.js';
import { Backoff, jitterMs, retryHintMs } from './backoff.js';
import { Emitter } from './emitter.js';
import { TownsquareError } from './errors.js';
import type { Decoded } from './frames.js';
import { Heartbeat } from './heartbeat.js';
import type { TokenStore } from './tokens.js';
import { Transport } from './transport.js';
import type { ConnectionEvents, ConnectionState, ConnectionStateChange, ErrorEvent, TownsquareOptions, WebSocketConstructor } from './types.js';

/** Local close codes (never sent by a relay): why the SDK dropped a socket itself. */
export const LocalClose = {
  /** No pong within the heartbeat timeout, or no welcome in time. */
  Unresponsive: 4000,
  /** `close()` was called. */
  Closed: 1000,
} as const;

/** After 1013 (the relay cannot verify tokens now) wait at least this long, plus jitter. */
export const TRY_AGAIN_LATER_MIN_MS = 2000;
/** Renew the token when this share of its remaining life has passed (plus up to 10% jitter). */
const REFRESH_AT = 0.75;

type Reply = Extract<ServerFrame, { ref?: unknown }>;
interface Pending {
  resolve(frame: Reply): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface ConnectionInternalEvents {
  /** Authenticated (after every reconnect): subscriptions subscribe again. */
  ready: void;
  /** The socket is gone (before a reconnect or for good). */
  lost: void;
  /** A frame not consumed by a pending request. */
  frame: ServerFrame;
}

export class Connection {
  readonly events: Emitter<ConnectionEvents>;
  readonly internal: Emitter<ConnectionInternalEvents>;
  state: ConnectionState = 'disconnected';
  userId: string | undefined;
  /** The connection's token expiry (epoch ms), from `welcome` / `refreshed`. */
  expiresAt: number | undefined;
  /** The relay URL the last welcomed socket is on. */
  relayUrl: string | undefined;

  private transport: Transport | null = null;
  private readonly urls: string[];
  private urlIndex = 0;
  private readonly backoff: Backoff;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly heartbeat: Heartbeat;
  private readonly pending = new Map<number, Pending>();
  private nextRef = 1;
  /** The token the current socket authenticated with. */
  private socketToken: string | null = null;
  /** The next connect fetches a new token (after 4005). */
  private needFreshToken = false;
  /** Bumped per attempt, so late callbacks of an old attempt do nothing. */
  private attempt = 0;
  private attemptStartedAt = 0;
  /** The server asked for this pause (1013, a drain's retry hint): `check()` does not cut it short. */
  private pausedUntil = 0;

  constructor(
    private readonly options: TownsquareOptions,
    private readonly WebSocketImpl: WebSocketConstructor,
    private readonly tokens: TokenStore,
    readonly requestTimeoutMs: number,
  ) {
    this.events = new Emitter<ConnectionEvents>((error, event) => this.listenerFailed(error, event));
    this.internal = new Emitter<ConnectionInternalEvents>((error, event) => this.listenerFailed(error, event));
    const urls = Array.isArray(options.relayUrls) ? options.relayUrls : [options.relayUrls];
    if (urls.length === 0) throw new TypeError('relayUrls must name at least one relay');
    this.urls = [...urls];
    const order = options.relayOrder ?? 'random';
    if (order !== 'random' && order !== 'given') throw new TypeError("relayOrder must be 'random' or 'given'");
    // Random: an app's clients spread over the relays instead of all starting on the first.
    this.urlIndex = order === 'given' ? 0 : Math.floor(Math.random() * this.urls.length);
    this.backoff = new Backoff(options.backoff);
    this.heartbeat = new Heartbeat(options.heartbeat ?? {}, {
      ping: (timeoutMs) => this.request({ type: 'ping' }, timeoutMs).then(() => undefined),
      dead: () => this.drop(LocalClose.Unresponsive, 'no answer to the heartbeat ping'),
    });
  }

  connect(): void {
    if (this.state === 'connecting' || this.state === 'connected') return;
    this.clearReconnect();
    void this.open();
  }

  /** Closes for good (until `connect()` again); no reconnect. */
  close(): void {
    this.clearReconnect();
    const transport = this.transport;
    this.setState('closed', { reason: 'closed by the app', code: LocalClose.Closed });
    if (transport) transport.close(LocalClose.Closed, 'closed by the app');
    else this.teardown();
  }

  /**
   * Checks the socket now (the page became visible, the network came back):
   * a ping that must come back within the heartbeat timeout, or, while
   * waiting out a backoff, a reconnect at once — but not during a pause the
   * server asked for (1013, a draining relay's `retryMs`).
   */
  check(): void {
    if (this.state === 'connected') this.heartbeat.probe();
    else if (this.state === 'connecting' && this.transport && Date.now() - this.attemptStartedAt > this.heartbeat.timeoutMs) {
      // A handshake hanging this long went into a dead link: start over now.
      this.drop(LocalClose.Unresponsive, 'no welcome in time');
      this.reconnectNow();
    } else if (this.state === 'disconnected' && this.reconnectTimer && Date.now() >= this.pausedUntil) this.reconnectNow();
  }

  private reconnectNow(): void {
    this.clearReconnect();
    if (this.state === 'disconnected') void this.open();
  }

  /** Sends a frame without waiting for a reply; false when not connected. */
  send(frame: object): boolean {
    return this.state === 'connected' && !!this.transport?.send(frame);
  }

  /** Sends a command and resolves with its reply; rejects on an `error` frame, a timeout or a lost socket. */
  request(frame: Record<string, unknown>, timeoutMs = this.requestTimeoutMs): Promise<Reply> {
    const transport = this.transport;
    if (!transport || this.state !== 'connected') return Promise.reject(new TownsquareError('closed', 'not connected'));
    const ref = this.nextRef++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new TownsquareError('timeout', `no reply to ${String(frame.type)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      if (!transport.send({ ...frame, ref })) {
        clearTimeout(timer);
        this.pending.delete(ref);
        reject(new TownsquareError('closed', 'not connected'));
      }
    });
  }

  reportError(event: ErrorEvent): void {
    this.events.emit('error', event);
  }

  // ── Opening ──
  private async open(): Promise<void> {
    const attempt = ++this.attempt;
    this.attemptStartedAt = Date.now();
    this.setState('connecting');
    let token: string;
    try {
      token = this.needFreshToken ? await this.tokens.fresh() : await this.tokens.get();
    } catch (error) {
      if (attempt !== this.attempt || this.state !== 'connecting') return;
      this.reportError({ kind: 'token', message: `getToken() failed: ${errorMessage(error)}`, error });
      this.setState('disconnected', { reason: 'could not get a token' });
      this.scheduleReconnect(this.backoff.next());
      return;
    }
    if (attempt !== this.attempt || this.state !== 'connecting') return;
    this.needFreshToken = false;
    this.socketToken = token;
    const url = this.urls[this.urlIndex % this.urls.length]!;
    let transport: Transport;
    try {
      transport = this.createTransport(url, token);
    } catch (error) {
      // A URL the platform refuses (a typo, ws: from an https: page): report it, try the next one.
      this.reportError({ kind: 'transport', message: `cannot open ${url}: ${errorMessage(error)}`, context: { url }, error });
      this.setState('disconnected', { reason: errorMessage(error) });
      this.urlIndex++;
      this.scheduleReconnect(this.backoff.next());
      return;
    }
    this.transport = transport;
    // A relay that accepts TCP but never answers (or a black-holed route) must not hold us: try the next one.
    const welcomeTimer = setTimeout(() => {
      if (this.transport === transport && this.state === 'connecting') this.drop(LocalClose.Unresponsive, 'no welcome in time');
    }, this.requestTimeoutMs);
    transport.onceSettled = () => clearTimeout(welcomeTimer);
  }

  private createTransport(url: string, token: string): Transport {
    const transport: Transport = new Transport(this.WebSocketImpl, url, {
      open: () => transport.send({ type: 'auth', token }),
      frame: (decoded) => {
        if (decoded.ok && decoded.frame.type === 'welcome') {
          transport.onceSettled?.();
          this.welcomed(decoded.frame);
        } else {
          this.onFrame(decoded);
        }
      },
      close: (code, reason) => {
        transport.onceSettled?.();
        if (this.transport === transport) this.closed(code, reason);
      },
    });
    return transport;
  }

  private welcomed(frame: Extract<ServerFrame, { type: 'welcome' }>): void {
    this.userId = frame.userId;
    this.expiresAt = frame.expiresAt;
    this.relayUrl = this.transport?.url;
    this.backoff.reset();
    this.setState('connected');
    this.heartbeat.start();
    this.scheduleRefresh();
    this.internal.emit('ready', undefined);
  }

  private onFrame(decoded: Decoded): void {
    this.heartbeat.received();
    if (!decoded.ok) {
      if (!decoded.ignored) this.reportError({ kind: 'frame', message: decoded.message, context: { type: decoded.type, url: this.transport?.url } });
      return;
    }
    const frame = decoded.frame;
    const ref = (frame as { ref?: unknown }).ref;
    if (typeof ref === 'number' && this.pending.has(ref)) {
      const pending = this.pending.get(ref)!;
      this.pending.delete(ref);
      clearTimeout(pending.timer);
      if (frame.type === 'error') pending.reject(new TownsquareError(frame.code, frame.message));
      else pending.resolve(frame as Reply);
      return;
    }
    if (frame.type === 'error') {
      this.reportError({ kind: 'server', message: frame.message, context: { code: frame.code } });
      return;
    }
    this.internal.emit('frame', frame);
  }

  // ── Closing and reconnecting ──
  /** Drops the current socket as if it had closed with `code`. */
  private drop(code: number, reason: string): void {
    this.transport?.close(code, reason);
  }

  private closed(code: number, reason: string): void {
    this.teardown();
    if (this.state === 'closed') return;
    if (!shouldReconnect(code)) {
      this.setState('closed', { reason: reason || `closed with ${code}`, code, terminal: true });
      this.reportError({ kind: 'transport', message: `the relay closed the connection for good (${code}${reason ? ` ${reason}` : ''}); not reconnecting`, context: { code, reason } });
      return;
    }
    this.setState('disconnected', { reason: reason || `closed with ${code}`, code });
    // Another relay next time: a dead or restarting one would refuse again.
    this.urlIndex++;
    if (code === CloseCode.TokenExpired) {
      this.needFreshToken = true;
      if (this.socketToken) this.tokens.invalidate(this.socketToken);
    }
    const hint = code === CloseCode.RelayRestarting || code === CloseCode.TryAgainLater ? retryHintMs(reason) : null;
    let delay: number;
    if (hint !== null) {
      this.backoff.next();
      delay = jitterMs(hint);
    } else if (code === CloseCode.TryAgainLater) {
      delay = this.backoff.nextAtLeast(TRY_AGAIN_LATER_MIN_MS);
    } else {
      delay = this.backoff.next();
    }
    this.pausedUntil = hint !== null || code === CloseCode.TryAgainLater ? Date.now() + delay : 0;
    this.scheduleReconnect(delay);
  }

  private scheduleReconnect(delayMs: number): void {
    this.clearReconnect();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state === 'disconnected') void this.open();
    }, delayMs);
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  /** Everything tied to one socket ends with it. */
  private teardown(): void {
    this.transport = null;
    this.heartbeat.stop();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    for (const [ref, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new TownsquareError('closed', 'the connection closed'));
      this.pending.delete(ref);
    }
    this.internal.emit('lost', undefined);
  }

  // ── Token renewal ──
  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.expiresAt === undefined) return;
    const remaining = this.expiresAt - Date.now();
    const delay = Math.max(0, remaining * (REFRESH_AT + Math.random() * 0.1));
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.min(delay, 2 ** 31 - 1));
  }

  private async refresh(retried = false): Promise<void> {
    this.refreshTimer = null;
    const before = this.expiresAt;
    try {
      const token = await this.tokens.fresh();
      const reply = await this.request({ type: 'refresh', token });
      if (reply.type !== 'refreshed') return;
      this.socketToken = token;
      this.expiresAt = reply.expiresAt;
      // The same expiry again (an app caching its token): renewing cannot help; the 4005 reconnect will.
      if (before === undefined || reply.expiresAt > before) this.scheduleRefresh();
    } catch (error) {
      if (this.state !== 'connected') return;
      const code = (error as TownsquareError).code;
      this.reportError({ kind: 'token', message: `token renewal failed: ${errorMessage(error)}`, context: { code }, error });
      // One more try for the refusals a retry can fix; otherwise the relay's 4005 leads to a reconnect with a new token.
      if (!retried && (code === 'token_expired' || code === 'unavailable' || code === 'rate_limited' || code === 'timeout')) {
        const left = (this.expiresAt ?? 0) - Date.now();
        this.refreshTimer = setTimeout(() => void this.refresh(true), Math.max(0, Math.min(2000, left / 2)));
      }
    }
  }

  // ── Events ──
  private setState(state: ConnectionState, extra: Omit<ConnectionStateChange, 'state' | 'previous'> = {}): void {
    const previous = this.state;
    if (previous === state) return;
    this.state = state;
    this.events.emit('state', { state, previous, ...extra });
  }

  private listenerFailed(error: unknown, event: string): void {
    if (event === 'error') return; // never loop
    this.events.emit('error', { kind: 'listener', message: `a listener of '${event}' threw: ${errorMessage(error)}`, context: { event }, error });
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
