/**
 * The SDK's public types. They are plain interfaces (no zod in the emitted
 * declarations); test/client/protocol-types.test.ts checks at compile time
 * that they match the schemas in protocol/.
 */

/** `connecting` covers the whole way to `welcome` (socket open, auth sent). */
export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'closed';
export type SubscriptionState = 'unsubscribed' | 'subscribing' | 'subscribed' | 'failed';

/**
 * An event handler slot, checked like a method (bivariantly): the DOM's
 * `(this: WebSocket, ev: MessageEvent) => any`, `ws`'s and React Native's
 * handlers all fit, while the SDK only relies on the fields named here.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The minimal WebSocket the SDK needs: the browser's, React Native's, or `ws` in Node (each passes as is). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The minimal `fetch` the SDK needs (globalThis.fetch fits). */
export interface FetchResponseLike {
  readonly status: number;
  readonly ok: boolean;
  /** Read for `Retry-After` on 429 / 503 (optional: a response without headers just has no hint). */
  readonly headers?: { get(name: string): string | null };
  text(): Promise<string>;
}
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: unknown },
) => Promise<FetchResponseLike>;

export interface BackoffOptions {
  /** First retry waits up to this long (full jitter: uniformly 0…cap). @default 500 */
  minDelayMs?: number;
  /** The cap doubles per failed attempt up to this. @default 20000 */
  maxDelayMs?: number;
}

export interface SendRetryOptions {
  /**
   * Failed attempts that got an answer (5xx, 429, 409, 408, a body that is not JSON)
   * before a send is given up and its promise rejects with code `send_failed`. @default 8
   */
  maxAttempts?: number;
  /**
   * Longest time a send may wait in the queue and retry, offline included, from the
   * moment `send` was called; then it rejects with code `send_failed`. @default 300000 (5 min)
   */
  deadlineMs?: number;
}

export interface HeartbeatOptions {
  /** A ping is sent when nothing arrived for this long. @default 10000 */
  intervalMs?: number;
  /** The socket counts as dead when the pong is not back within this. @default 5000 */
  timeoutMs?: number;
}

export interface TownsquareOptions {
  /** Several relays (tried in turn on failure) or one load-balancer URL: `ws(s)://…/ws`. */
  relayUrls: string[] | string;
  /**
   * Where in `relayUrls` the first connection goes: `'random'` spreads an app's
   * clients over the relays; `'given'` starts at the first URL (put a preferred relay
   * first). Either way each reconnect moves on to the next URL. @default 'random'
   */
  relayOrder?: 'random' | 'given';
  /** Base of the HTTP API: `http(s)://…` (no trailing slash needed). */
  apiUrl: string;
  /** Called for every new token the SDK needs (connect, renewal, after 4005 or an HTTP 401). */
  getToken: () => Promise<string>;
  /** @default globalThis.WebSocket (pass `ws`'s class in Node) */
  WebSocket?: WebSocketConstructor;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  backoff?: BackoffOptions;
  heartbeat?: HeartbeatOptions;
  /** Least time between two signals of one event on one channel; later ones coalesce (the last data wins). @default 100 */
  signalIntervalMs?: number;
  /** Most sends waiting while offline; `send` rejects with code `send_queue_full` beyond. @default 100 */
  maxQueuedSends?: number;
  /** When a send that keeps failing is given up (so it never blocks its room's queue for ever). */
  sendRetry?: SendRetryOptions;
  /** A command (subscribe, refresh, …) with no reply within this fails (and the socket is checked). @default 10000 */
  requestTimeoutMs?: number;
  /** Listen to `visibilitychange` / `online` in browsers to check the socket at once. @default true */
  browserEvents?: boolean;
}

/** A durable message of a channel, as delivered: exactly once, in `seq` order. */
export interface Message<T = unknown> {
  channel: string;
  seq: number;
  id: string;
  event: string;
  data: T;
  /** Epoch ms when it was stored. */
  ts: number;
}

/** A chat message as the HTTP API stores it (the `data` of a `message.created` room message). */
export interface ChatMessage {
  id: string;
  seq: number;
  roomId: string;
  userId: string;
  text: string;
  /** ISO 8601. */
  createdAt: string;
  clientMessageId?: string;
}

export type Role = 'owner' | 'admin' | 'member';
export interface Room {
  roomId: string;
  name: string;
  createdBy: string;
  createdAt: string;
}
export interface RoomSummary extends Room {
  joinedAt: string;
  role: Role;
}
export interface RoomsPage {
  rooms: RoomSummary[];
  nextCursor: string | null;
}
export interface Membership {
  roomId: string;
  userId: string;
  addedBy: string;
  joinedAt: string;
  role: Role;
}

export interface Notification {
  id: string;
  type: string;
  title: string;
  body: string;
  data?: unknown;
  /** Epoch ms. */
  createdAt: number;
  read: boolean;
}
export interface NotificationsPage {
  items: Notification[];
  nextCursor?: string | null;
}
/** Pushed on `user:{me}` when notifications were marked read (on any device). */
export type NotificationsReadEvent = ({ ids: string[] } | { all: true }) & { unread: number };

// ── Events ──────────────────────────────────────────────────────────────────
export interface StateChange<S> {
  state: S;
  previous: S;
  /** Why, in words (a close reason, an error message). */
  reason?: string;
  /** The WebSocket close code, when a close caused it. */
  code?: number;
}

export interface ConnectionStateChange extends StateChange<ConnectionState> {
  /** Set with `closed` after a terminal close (e.g. 4501): the SDK stopped reconnecting until `connect()` is called again. */
  terminal?: boolean;
}

export type ErrorKind =
  /** A server frame that is not JSON or does not match its schema (ignored). */
  | 'frame'
  /** An `error` frame from the relay (a refused command). */
  | 'server'
  /** A history fetch failed (it is retried). */
  | 'history'
  /** `getToken()` failed or a token was refused. */
  | 'token'
  /** The socket failed (it is reconnected). */
  | 'transport'
  /** A send failed for good (its promise rejected too). */
  | 'send'
  /** A subscription was refused or ended by the relay. */
  | 'subscription'
  /** An app listener threw (the SDK carried on). */
  | 'listener';

export interface ErrorEvent {
  kind: ErrorKind;
  message: string;
  /** Where it happened: channel, seq, status, close code, frame type… */
  context?: Record<string, unknown>;
  error?: unknown;
}

export interface ConnectionEvents {
  state: ConnectionStateChange;
  error: ErrorEvent;
}

export interface SubscribedEvent {
  /**
   * Every message since the last delivered `seq` (or since `since`) was delivered:
   * nothing was lost. False when a gap was reported, or when the subscription started
   * `live` (no known position to recover from).
   */
  recovered: boolean;
  /** The last `seq` delivered so far (0 when none yet). */
  lastSeq: number;
  /** False the first time, true after every resubscribe (reconnects included). */
  resubscribed: boolean;
}

export interface GapEvent {
  /** First and last `seq` that will never be delivered. */
  fromSeq: number;
  toSeq: number;
  /** `expired`: history no longer holds them (message retention). */
  reason: 'expired';
}

export interface SignalEvent<T = unknown> {
  event: string;
  userId: string;
  data: T;
}

export interface SubscriptionEvents {
  state: StateChange<SubscriptionState>;
  subscribed: SubscribedEvent;
  message: Message;
  gap: GapEvent;
  signal: SignalEvent;
  presence: { members: string[] };
  join: { userId: string };
  leave: { userId: string };
}

export interface SubscribeOptions {
  /**
   * Deliver every message with `seq > since` (0: the whole history, paged from the
   * history route). `'live'`: start with the messages published after the subscribe
   * (the first live one sets the position; earlier seqs that arrive within the reorder
   * window still count); after that gaps are filled as usual. Without `since`, a channel
   * this client subscribed before resumes after the last seq it delivered; else 0.
   * Ignored when the channel is already subscribed (one subscription per channel).
   */
  since?: number | 'live';
}

export interface SendOptions {
  /**
   * The id that makes retries safe (1–64 of `A–Z a–z 0–9 _ -`). Omit it for a new
   * message; pass the `clientMessageId` of a rejected send to try that message again
   * without any risk of storing it twice. @default a new random id
   */
  clientMessageId?: string;
}

export interface NotificationEvents {
  notification: Notification;
  read: NotificationsReadEvent;
}

/** Every SDK-level failure that is not an HTTP answer: `send_queue_full`, `closed`, `timeout`, … */
export type ClientErrorCode = 'send_queue_full' | 'send_failed' | 'closed' | 'timeout' | 'network' | 'invalid_response';
