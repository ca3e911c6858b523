/**
 * The client: one connection, its subscriptions, the HTTP API with the send
 * queue, and the notification helpers, wired together.
 */
import type { ServerFrame } from '../../protocol/frames.js';
import { Connection, errorMessage } from './connection.js';
import { Emitter } from './emitter.js';
import { watchAppState, watchBrowser, type AppStateLike } from './environment.js';
import { HttpApi } from './http.js';
import { DEFAULT_MAX_QUEUED_SENDS, SendQueue } from './send-queue.js';
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
  SubscribeOptions,
  TownsquareOptions,
  WebSocketConstructor,
} from './types.js';

export const DEFAULT_SIGNAL_INTERVAL_MS = 100;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

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

  private readonly connection: Connection;
  private readonly api: HttpApi;
  private readonly sends: SendQueue;
  private readonly subscriptions = new Map<string, Subscription>();
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
    this.sends = new SendQueue(this.api, options.maxQueuedSends ?? DEFAULT_MAX_QUEUED_SENDS, (error, roomId, clientMessageId) =>
      this.connection.reportError({ kind: 'send', message: `send to room ${roomId} failed: ${errorMessage(error)}`, context: { roomId, clientMessageId }, error }),
    );
    this.notificationEvents = new Emitter<NotificationEvents>((error, event) =>
      this.connection.reportError({ kind: 'listener', message: `a notifications listener of '${event}' threw: ${errorMessage(error)}`, context: { event }, error }),
    );
    const signalIntervalMs = options.signalIntervalMs ?? DEFAULT_SIGNAL_INTERVAL_MS;
    this.subscriptionHost = { connection: this.connection, api: this.api, signalIntervalMs, forget: (s) => this.forget(s) };

    this.connection.internal.on('ready', () => {
      this.sends.retryNow();
      this.ensureNotificationChannel();
      for (const sub of this.subscriptions.values()) sub.connectionReady();
    });
    this.connection.internal.on('lost', () => {
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

  /** The subscription to `channel` (the existing one if there is one; a failed one is started again). */
  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    let sub = this.subscriptions.get(channel);
    if (!sub) {
      sub = new Subscription(channel, options, this.subscriptionHost);
      this.subscriptions.set(channel, sub);
    }
    sub.start();
    return sub;
  }

  /** The current subscription to `channel`, if any. */
  subscription(channel: string): Subscription | undefined {
    return this.subscriptions.get(channel);
  }

  /** Sends a chat message over HTTP; queued while offline and retried with the same clientMessageId (never stored twice). */
  send(roomId: string, text: string): Promise<ChatMessage> {
    return this.sends.send(roomId, text);
  }

  private forget(sub: Subscription): void {
    if (this.subscriptions.get(sub.channel) === sub) this.subscriptions.delete(sub.channel);
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
