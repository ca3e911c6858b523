/**
 * The client: one connection, its subscriptions, the HTTP API with the send
 * queue, and the notification helpers, wired together.
 */
import type { ServerFrame } from '../../protocol/frames.js';
import { Connection, errorMessage } from './connection.js';
import type { DocumentsApi } from './document-types.js';
import { documentsApi } from './documents-api.js';
import { Emitter } from './emitter.js';
import { watchAppState, watchBrowser, type AppStateLike } from './environment.js';
import { HttpApi } from './http.js';
import { DEFAULT_MAX_QUEUED_SENDS, SendQueue } from './send-queue.js';
import { SignalGate } from './signal-gate.js';
import { Subscription, type SubscriptionHost } from './subscription.js';
import { TokenStore } from './tokens.js';
import type {
  ChatMessage,
  ConnectionEvents,
  ConnectionState,
  FetchLike,
  Membership,
  NotificationEvents,
  NotificationsPage,
  Role,
  Room,
  RoomsPage,
  SendOptions,
  SubscribeOptions,
  TownsquareOptions,
  WebSocketConstructor,
} from './types.js';

export const DEFAULT_SIGNAL_INTERVAL_MS = 100;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Channels whose last delivered seq the client remembers after they were unsubscribed. */
const MAX_REMEMBERED_POSITIONS = 1000;

export class Townsquare {
  /** Chat rooms over the HTTP API. */
  readonly rooms: {
    list(options?: { limit?: number; cursor?: string }): Promise<RoomsPage>;
    create(name: string): Promise<Room>;
    addMember(roomId: string, userId: string, role?: Exclude<Role, 'owner'>): Promise<Membership>;
    removeMember(roomId: string, userId: string): Promise<void>;
  };
  /** The caller's notification inbox, and its live events (from the `user:{me}` channel, subscribed on the first `on`). */
  readonly notifications: {
    list(options?: { unread?: boolean; limit?: number; cursor?: string }): Promise<NotificationsPage>;
    unreadCount(): Promise<number>;
    markRead(id: string): Promise<{ unread: number }>;
    markAllRead(): Promise<{ unread: number }>;
    on<K extends keyof NotificationEvents>(event: K, listener: (payload: NotificationEvents[K]) => void): () => void;
  };

  /** Collaborative documents over the HTTP API; the live `Y.Doc` binding is `openDocument` in `@townsquare/client/documents`. */
  readonly documents: DocumentsApi;

  private readonly connection: Connection;
  private readonly api: HttpApi;
  private readonly sends: SendQueue;
  private readonly subscriptions = new Map<string, Subscription>();
  /** The last seq delivered on channels unsubscribed since: subscribing again resumes there (oldest forgotten first). */
  private readonly positions = new Map<string, number>();
  private readonly subscriptionHost: SubscriptionHost;
  private readonly notificationEvents: Emitter<NotificationEvents>;
  private notificationsWanted = false;
  private stopWatching: Array<() => void> = [];

  constructor(options: TownsquareOptions) {
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw new TypeError('no WebSocket: pass the `ws` package as options.WebSocket in Node');
    const fetchImpl = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch?.bind(globalThis);
    if (!fetchImpl) throw new TypeError('no fetch: pass options.fetch');
    if (typeof options.getToken !== 'function') throw new TypeError('getToken must be a function returning a Promise of a token');
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const tokens = new TokenStore(options.getToken);
    this.connection = new Connection(options, WebSocketImpl, tokens, requestTimeoutMs);
    this.api = new HttpApi(options.apiUrl, fetchImpl, tokens, requestTimeoutMs);
    this.sends = new SendQueue(
      this.api,
      options.maxQueuedSends ?? DEFAULT_MAX_QUEUED_SENDS,
      (error, roomId, clientMessageId) =>
        this.connection.reportError({ kind: 'send', message: `send to room ${roomId} failed: ${errorMessage(error)}`, context: { roomId, clientMessageId, code: error.code }, error }),
      options.sendRetry,
    );
    this.notificationEvents = new Emitter<NotificationEvents>((error, event) =>
      this.connection.reportError({ kind: 'listener', message: `a notifications listener of '${event}' threw: ${errorMessage(error)}`, context: { event }, error }),
    );
    const signalIntervalMs = options.signalIntervalMs ?? DEFAULT_SIGNAL_INTERVAL_MS;
    const signals = new SignalGate((channel, event, data) => this.connection.send({ type: 'signal', channel, event, data }));
    this.subscriptionHost = { connection: this.connection, api: this.api, signalIntervalMs, signals, forget: (s) => this.forget(s) };

    this.connection.internal.on('ready', () => {
      this.sends.retryNow();
      this.ensureNotificationChannel();
      for (const sub of this.subscriptions.values()) sub.connectionReady();
    });
    this.connection.internal.on('lost', () => {
      signals.clear();
      for (const sub of this.subscriptions.values()) sub.connectionLost();
    });
    this.connection.internal.on('frame', (frame) => this.route(frame));
    if (options.browserEvents !== false) this.stopWatching.push(watchBrowser(() => this.check()));

    const api = this.api;
    this.rooms = {
      list: (o) => api.listRooms(o),
      create: (name) => api.createRoom(name),
      addMember: (roomId, userId, role) => api.addMember(roomId, userId, role),
      removeMember: (roomId, userId) => api.removeMember(roomId, userId),
    };
    this.documents = documentsApi(api);
    this.notifications = {
      list: (o) => api.listNotifications(o),
      unreadCount: () => api.unreadCount(),
      markRead: (id) => api.markRead(id),
      markAllRead: () => api.markAllRead(),
      on: (event, listener) => {
        this.notificationsWanted = true;
        this.ensureNotificationChannel();
        return this.notificationEvents.on(event, listener);
      },
    };
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The authenticated user (after the first `welcome`). */
  get userId(): string | undefined {
    return this.connection.userId;
  }

  /** The relay URL (one of `relayUrls`) the connection is on, or was on last; set before the `connected` state event. */
  get relayUrl(): string | undefined {
    return this.connection.relayUrl;
  }

  on<K extends keyof ConnectionEvents>(event: K, listener: (payload: ConnectionEvents[K]) => void): () => void {
    return this.connection.events.on(event, listener);
  }

  /** Opens the connection (and keeps it open, reconnecting, until `close()` or a terminal close). */
  connect(): this {
    this.connection.connect();
    return this;
  }

  /** Closes the connection and ends every subscription; queued sends are rejected. */
  close(): void {
    for (const sub of [...this.subscriptions.values()]) sub.unsubscribe();
    this.sends.close();
    this.connection.close();
    this.stopWatching.forEach((stop) => stop());
    this.stopWatching = [];
  }

  /** Checks the connection now (the heartbeat's ping); `AppState`/visibility hooks call this. */
  check(): void {
    this.connection.check();
    this.sends.retryNow();
  }

  /** React Native: pass `AppState` from 'react-native' so returning to the foreground checks the socket. Returns the function that stops. */
  watchAppState(appState: AppStateLike): () => void {
    const stop = watchAppState(appState, () => this.check());
    this.stopWatching.push(stop);
    return stop;
  }

  /**
   * The subscription to `channel`: the existing one if there is one (`options` are then ignored;
   * a failed one is started again), else a new one. Without `since`, a channel this client
   * unsubscribed before resumes after the last seq it delivered, so no message is delivered twice.
   */
  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    let sub = this.subscriptions.get(channel);
    if (!sub) {
      const resume = this.positions.get(channel);
      sub = new Subscription(channel, options.since === undefined && resume !== undefined ? { ...options, since: resume } : options, this.subscriptionHost);
      this.subscriptions.set(channel, sub);
    }
    sub.start();
    return sub;
  }

  /** The current subscription to `channel`, if any. */
  subscription(channel: string): Subscription | undefined {
    return this.subscriptions.get(channel);
  }

  /**
   * Sends a chat message over HTTP; queued while offline and retried with the same clientMessageId
   * (never stored twice). A send given up on rejects with its `clientMessageId`: pass it back in
   * `options` to try that same message again.
   */
  send(roomId: string, text: string, options: SendOptions = {}): Promise<ChatMessage> {
    return this.sends.send(roomId, text, options.clientMessageId);
  }

  private forget(sub: Subscription): void {
    if (this.subscriptions.get(sub.channel) !== sub) return;
    this.subscriptions.delete(sub.channel);
    const position = sub.resumeSeq;
    if (position === null) return;
    this.positions.delete(sub.channel);
    this.positions.set(sub.channel, position);
    if (this.positions.size > MAX_REMEMBERED_POSITIONS) this.positions.delete(this.positions.keys().next().value!);
  }

  private route(frame: ServerFrame): void {
    const channel = (frame as { channel?: unknown }).channel;
    if (typeof channel !== 'string') return;
    this.subscriptions.get(channel)?.handleFrame(frame);
  }

  private ensureNotificationChannel(): void {
    const userId = this.connection.userId;
    if (!this.notificationsWanted || !userId) return;
    const channel = `user:${userId}`;
    if (this.subscriptions.has(channel)) return;
    const sub = this.subscribe(channel, { since: 'live' });
    sub.on('message', (m) => {
      if (m.event === 'notification') this.notificationEvents.emit('notification', m.data as NotificationEvents['notification']);
      else if (m.event === 'notification.read') this.notificationEvents.emit('read', m.data as NotificationEvents['read']);
    });
  }
}
