/**
 * The relay's network edge: one HTTP server for `/ws` (clients), `/healthz`
 * (load balancer) and `/metrics` (Prometheus); the WebSocket upgrade;
 * first-frame authentication under a deadline; heartbeats; draining on
 * shutdown. With ws-transport.ts (the write path), the only code that knows `ws`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Broker } from '../broker/types.js';
import { AuthFrame, CloseCode, ErrorCode } from '../protocol/index.js';
import type { ChannelAccess } from '../shared/channel-access.js';
import { Admission, rejectUpgrade, type Admitted } from './admission.js';
import type { TokenVerifier, VerifiedToken } from '../shared/token-verifier.js';
import { handleFrame, parseClientFrame, refOfRaw, sendError, tokenRefusal, type CommandContext } from './commands.js';
import { Connection, MAX_QUEUED_COMMANDS, type ConnectionLimits } from './connection.js';
import { closeWithGrace, rawSocketOf, WsTransport } from './ws-transport.js';
import { Hub } from './hub.js';
import type { RelayMetrics } from './metrics.js';
import type { Presence } from './presence.js';
import { PresenceSnapshots } from './presence-snapshots.js';
import { UserBudgets, type UserBudgetLimits } from './user-budgets.js';


/**
 * The 1012 close reason carries a retry hint: clients reconnect at a random
 * moment within `retryMs`, so a relay's whole population does not land on the
 * others at once (the client SDK reads it; see docs/client.md).
 */
export const DRAIN_RETRY_SPREAD_MS = 3000;
const DRAIN_CLOSE_REASON = `relay restarting; retryMs=${DRAIN_RETRY_SPREAD_MS}`;

export interface RelayOptions {
  broker: Broker;
  verifyToken: TokenVerifier;
  access: ChannelAccess;
  presence: Presence;
  logger: Logger;
  metrics: RelayMetrics;
  limits: ConnectionLimits;
  /** Per-user caps and budgets, shared across the user's connections on this relay. */
  userLimits: UserBudgetLimits;
  /** Sockets one client address may hold (authenticated or not). */
  maxConnectionsPerIp: number;
  /** Of those, sockets not yet authenticated. */
  maxPendingPerIp: number;
  /** Proxies that append to X-Forwarded-For in front of the relay (0: use the TCP peer). */
  trustProxyHops: number;
  /** A TCP connection must complete its upgrade request within this. */
  handshakeTimeoutMs: number;
  maxPayloadBytes: number;
  authTimeoutMs: number;
  heartbeatMs: number;
  /** Whether the broker can currently deliver (reported by `/healthz`). */
  brokerHealthy?: () => boolean;
}

export interface Relay {
  readonly server: Server;
  readonly hub: Hub;
  /** Fresh presence snapshots for a channel's local subscribers (after a Redis outage). */
  readonly snapshots: PresenceSnapshots;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, closes every client with 1012, waits for them (at most `timeoutMs`). */
  drain(timeoutMs: number): Promise<void>;
  connectionCount(): number;
}

/** Bytes an unauthenticated socket may send before its auth frame (the auth frame itself). */
const PRE_AUTH_MAX_BYTES = 16 * 1024;
/** How often expired tokens are looked for: a connection outlives its token by at most this. */
const EXPIRY_SWEEP_MS = 1000;
/** How often budgets of users who left are forgotten. */
const BUDGET_SWEEP_MS = 5000;
/** Frames a client may pipeline behind its auth frame before the token is verified. */
const PRE_AUTH_MAX_FRAMES = 16;
export function createRelay(options: RelayOptions): Relay {
  const { logger, metrics } = options;
  const connections = new Map<WebSocket, Connection>();
  // Presence is best-effort and counts its own errors; this handler only keeps a bug from escaping.
  const leavePresence = (channel: string, connection: Connection) =>
    options.presence.leave(channel, connection).catch((err: unknown) => logger.warn({ err, channel }, 'presence leave failed'));
  const hub = new Hub(
    options.broker,
    logger,
    metrics,
    (connection, channel) => void leavePresence(channel, connection),
    (channel) => snapshots.refresh(channel),
  );
  const snapshots = new PresenceSnapshots(hub, options.presence, logger, metrics);
  const ctx: CommandContext = {
    hub,
    access: options.access,
    publisher: options.broker,
    presence: options.presence,
    snapshots,
    verifyToken: options.verifyToken,
    logger,
    metrics,
  };
  let draining = false;
  /** Sockets that answered the last heartbeat ping. */
  const answeredPing = new WeakSet<WebSocket>();
  // Handlers shared by every socket (`this` is the socket): a closure per socket would cost memory.
  function markAlive(this: WebSocket): void {
    answeredPing.add(this);
  }
  const onSocketError = (err: Error) => logger.debug({ err }, 'socket error');
  const onSlow = () => metrics.disconnects.inc({ reason: 'slow' });
  // Unique across the fleet (a random relay prefix), and shorter than a UUID per connection.
  const relayPrefix = randomBytes(6).toString('base64url');
  let connectionCounter = 0;
  const nextConnectionId = () => `${relayPrefix}.${(++connectionCounter).toString(36)}`;

  const userBudgets = new UserBudgets(options.userLimits);
  const admission = new Admission(
    {
      maxPerIp: options.maxConnectionsPerIp,
      maxPendingPerIp: options.maxPendingPerIp,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      trustProxyHops: options.trustProxyHops,
    },
    (reason) => metrics.disconnects.inc({ reason }),
  );

  /** Closes a socket the relay is done with (the caller stops reading from it); destroyed soon. */
  const refuse = closeWithGrace;

  const server = createServer((req, res) => {
    admission.handshakeDone(req.socket);
    // One request per connection: the handshake deadline covers only the first, and the
    // relay serves nothing worth keeping a connection for (health checks, scrapes).
    res.shouldKeepAlive = false;
    serveHttp(req, res).catch((err) => {
      logger.error({ err }, 'http request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: ErrorCode.Internal, message: 'Internal error' } }));
    });
  });
  admission.watch(server);

  async function serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      // Only draining makes a relay unhealthy. A Redis outage hits every relay alike, and
      // failing health checks then would have ECS replace the whole fleet mid-outage.
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: draining ? 'draining' : 'ok',
          broker: (options.brokerHealthy?.() ?? true) ? 'up' : 'down',
          connections: connections.size,
        }),
      );
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: ErrorCode.NotFound, message: 'Connect WebSockets to /ws' } }));
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes, perMessageDeflate: false });

  server.on('upgrade', (req, socket, head) => {
    admission.handshakeDone(socket);
    // Node's HTTP server drops its own error listener from an upgrading socket: without
    // one, a client resetting the connection while it is refused would end the process.
    socket.on('error', onSocketError);
    if ((req.url ?? '').split('?')[0] !== '/ws' || draining) {
      if (draining) rejectUpgrade(socket, 503, 'Service Unavailable', ErrorCode.Unavailable, 'This relay is restarting; connect again');
      else rejectUpgrade(socket, 404, 'Not Found', ErrorCode.NotFound, 'Connect WebSockets to /ws');
      return;
    }
    const admitted = admission.admit(req, socket);
    // Keep only what `admitted` holds: holding `req` would keep its headers alive per socket.
    if (admitted) wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, admitted));
  });

  let checkedWsInternals = false;
  function onSocket(ws: WebSocket, admitted: Admitted): void {
    if (!checkedWsInternals) {
      checkedWsInternals = true;
      if (!rawSocketOf(ws)) logger.error('ws no longer exposes its socket where ws 8 did: writing frames one by one through ws.send (slower); check the ws version');
    }
    let connection: Connection | null = null;
    /** Frames that arrived after `auth` while the token was being verified (clients may pipeline). */
    let early: string[] | null = null;
    /** Set once authentication failed: nothing more is read from this socket. */
    let refused = false;
    answeredPing.add(ws);
    ws.on('pong', markAlive);

    let authDeadline: NodeJS.Timeout | undefined = setTimeout(() => {
      refused = true;
      refuse(ws, CloseCode.AuthTimeout, 'no auth frame in time');
    }, options.authTimeoutMs);
    ws.on('error', onSocketError);
    ws.on('close', (code) => {
      clearTimeout(authDeadline);
      // From the registry, not the closure: whatever authentication registered is released.
      const connection = connections.get(ws);
      if (!connection) return;
      connection.markClosed();
      for (const channel of connection.subscriptions) void leavePresence(channel, connection);
      hub.removeAll(connection);
      connections.delete(ws);
      userBudgets.release(connection.userId);
      metrics.connections.set(connections.size);
      logger.debug({ connectionId: connection.id, code }, 'connection closed');
    });

    const dispatch = (current: Connection, text: string) => {
      // Limits apply on arrival, before anything is queued for the frame.
      const admitted = current.admit();
      if (admitted === 'flood') {
        metrics.disconnects.inc({ reason: 'flood' });
        current.close(CloseCode.PolicyViolation, 'too many frames');
        return;
      }
      if (admitted === 'queue_full') {
        // Waiting on a slow store or broker is not the client's fault: refuse this one
        // command (parsed only to echo its ref: bounded by the shape check and the frame rate)
        // and keep the connection.
        sendError(ctx, current, refOfRaw(text), ErrorCode.RateLimited, `More than ${MAX_QUEUED_COMMANDS} commands waiting; retry this one shortly`);
        return;
      }
      void current.enqueue(() => handleFrame(ctx, current, text)).catch((err) => logger.error({ err }, 'frame handling failed'));
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (refused) return;
      if (isBinary) {
        if (connection) return connection.close(CloseCode.PolicyViolation, 'binary frames are not supported');
        refused = true;
        return refuse(ws, CloseCode.PolicyViolation, 'binary frames are not supported');
      }
      const text = data.toString();
      if (connection) return dispatch(connection, text);
      if (early) {
        if (early.length < PRE_AUTH_MAX_FRAMES) return void early.push(text);
        refused = true;
        return refuse(ws, CloseCode.PolicyViolation, 'too many frames before authentication');
      }
      early = [];
      authenticate(ws, admitted.ip, text)
        .catch((err: unknown) => {
          // A bug of ours, not the client's: say so, and drop the socket.
          logger.error({ err }, 'authentication failed unexpectedly');
          refuse(ws, CloseCode.InternalError, 'internal error');
          return null;
        })
        .then((authenticated) => {
          if (authenticated) {
            admitted.authenticated();
            // Dropped, not just cleared: this closure lives as long as the socket.
            clearTimeout(authDeadline);
            authDeadline = undefined;
          } else {
            refused = true;
          }
          connection = authenticated;
          const queued = early ?? [];
          early = null;
          if (connection) for (const frame of queued) dispatch(connection, frame);
        })
        .catch((err: unknown) => logger.error({ err }, 'dispatching pipelined frames failed'));
    });
  }

  async function authenticate(ws: WebSocket, ip: string, text: string): Promise<Connection | null> {
    if (Buffer.byteLength(text) > PRE_AUTH_MAX_BYTES) {
      metrics.disconnects.inc({ reason: 'unauthorized' });
      refuse(ws, CloseCode.Unauthorized, 'auth frame too large');
      return null;
    }
    const parsed = parseClientFrame(text);
    const auth = parsed.ok ? AuthFrame.safeParse(parsed.frame) : null;
    if (!auth?.success) {
      metrics.disconnects.inc({ reason: 'unauthorized' });
      refuse(ws, CloseCode.Unauthorized, 'first frame must be {"type":"auth","token":...}');
      return null;
    }
    let token: VerifiedToken;
    try {
      token = await options.verifyToken(auth.data.token);
    } catch (err) {
      // Keys unavailable: 1013 (reconnect after a pause); expired: 4005 (new token, then reconnect); else 4501.
      const refusal = tokenRefusal(err);
      const retryable = refusal.close === CloseCode.TryAgainLater;
      if (retryable) logger.warn({ err }, 'could not fetch the token issuer keys');
      metrics.disconnects.inc({ reason: retryable ? 'issuer_unavailable' : refusal.close === CloseCode.TokenExpired ? 'token_expired' : 'unauthorized' });
      refuse(ws, refusal.close, refusal.message);
      return null;
    }
    if (ws.readyState !== ws.OPEN) return null;
    const budget = userBudgets.acquire(token.userId);
    if (!budget) {
      metrics.disconnects.inc({ reason: 'user_limit' });
      refuse(ws, CloseCode.TooManyConnections, `at most ${options.userLimits.maxConnections} connections per user`);
      return null;
    }
    // From here the close handler owns the budget slot and the registry entry.
    const connection = new Connection(nextConnectionId(), token.userId, new WsTransport(ws), options.limits, budget, onSlow);
    connection.expiresAt = token.expiresAt;
    connections.set(ws, connection);
    metrics.connections.set(connections.size);
    const ref = auth.data.ref;
    connection.send({ type: 'welcome', connectionId: connection.id, userId: token.userId, expiresAt: token.expiresAt, ...(ref !== undefined && { ref }) });
    logger.debug({ connectionId: connection.id, userId: token.userId, ip }, 'authenticated');
    return connection;
  }

  // Token expiry: one sweep a second rather than a timer per connection (memory per idle socket).
  const expirySweep = setInterval(() => {
    const now = Date.now();
    for (const connection of connections.values()) {
      if (connection.expiresAt !== null && connection.expiresAt <= now) {
        metrics.disconnects.inc({ reason: 'token_expired' });
        // Reconnectable: the client fetches a new token (or renews it in time with `refresh`).
        connection.close(CloseCode.TokenExpired, 'token expired');
      }
    }
  }, EXPIRY_SWEEP_MS);
  expirySweep.unref();
  const budgetSweep = setInterval(() => userBudgets.sweep(), BUDGET_SWEEP_MS);
  budgetSweep.unref();

  // Heartbeat: a socket that did not answer the previous ping is half-open.
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!answeredPing.delete(ws)) {
        metrics.disconnects.inc({ reason: 'heartbeat' });
        ws.terminate();
        continue;
      }
      ws.ping();
    }
  }, options.heartbeatMs);
  heartbeat.unref();

  return {
    server,
    hub,
    snapshots,
    connectionCount: () => connections.size,
    listen(port, host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server.address() as AddressInfo));
      });
    },
    async drain(timeoutMs) {
      draining = true;
      clearInterval(heartbeat);
      clearInterval(expirySweep);
      clearInterval(budgetSweep);
      snapshots.stop();
      hub.close();
      server.close();
      for (const ws of wss.clients) {
        const connection = connections.get(ws);
        // Through the connection, so frames already queued for it go out before the close.
        if (connection) connection.close(CloseCode.RelayRestarting, DRAIN_CLOSE_REASON);
        else ws.close(CloseCode.RelayRestarting, DRAIN_CLOSE_REASON);
      }
      const deadline = Date.now() + timeoutMs;
      while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
    },
  };
}
