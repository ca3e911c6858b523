/**
 * Channel → local connections, and the fan-out from the broker. One broker
 * subscription per channel per relay, reference-counted: taken by the first
 * local subscriber, released when the last one leaves.
 *
 * Each broker payload is validated once and serialized into a client frame
 * once; the same string is then written to every local subscriber.
 */
import type { Logger } from 'pino';
import type { Broker } from '../broker/types.js';
import { AWARENESS_COALESCE_MS, isCoalescedSignal, MAX_COALESCED_SENDERS } from '../protocol/awareness.js';
import { decodeEnvelope, type Envelope } from '../protocol/index.js';
import { AwarenessCoalescer, type SignalEnvelope } from './awareness-coalescer.js';
import { SharedFrame, type Connection } from './connection.js';
import type { RelayMetrics } from './metrics.js';

interface ChannelState {
  /** Local subscribers, each with when it joined (epoch ms; the access re-check leaves newer ones alone). */
  members: Map<Connection, number>;
  /** Settles when the broker subscription is active. */
  ready: Promise<void>;
  active: boolean;
  /** Subscribers waiting for their presence snapshot: join/leave frames for them wait here and follow it. */
  held: Map<Connection, PresenceHold>;
}

interface PresenceHold {
  frames: SharedFrame[];
  /** Frames were dropped (more than MAX_HELD_FRAMES came, or a `reset`): a newer snapshot is needed. */
  overflowed: boolean;
  /** A `leave` of the subscriber's own user is held: a later `join` of theirs is news, not an echo. */
  ownLeft: boolean;
}

/** How a hold ended: frames sent; or frames were lost and a newer snapshot is needed (held on) or not coming (`force`). */
export type PresenceRelease = 'released' | 'retry' | 'lost';

const newHold = (): PresenceHold => ({ frames: [], overflowed: false, ownLeft: false });

/** Presence frames held for one subscriber while its snapshot is read. */
const MAX_HELD_FRAMES = 256;

/** How long revocations are remembered, to close the race with an in-flight subscribe. */
const REVOCATION_MEMORY_MS = 60_000;

export interface HubOptions {
  /** Window in which a document's awareness signals are coalesced (latest per sender). @default AWARENESS_COALESCE_MS */
  awarenessCoalesceMs?: number;
}

export class Hub {
  private readonly channels = new Map<string, ChannelState>();
  private readonly revocations = new Map<string, number>();
  private readonly awareness: AwarenessCoalescer;

  constructor(
    private readonly broker: Broker,
    private readonly logger: Logger,
    private readonly metrics?: RelayMetrics,
    /** Told when a revoke removed a connection from a channel (presence cleanup). */
    private readonly onRevoked: (connection: Connection, channel: string) => void = () => {},
    /** Told when a channel's presence crossed the event limit: its subscribers need a fresh snapshot. */
    private readonly onPresenceReset: (channel: string) => void = () => {},
    options: HubOptions = {},
  ) {
    this.awareness = new AwarenessCoalescer(options.awarenessCoalesceMs ?? AWARENESS_COALESCE_MS, MAX_COALESCED_SENDERS, (channel, envelopes) =>
      this.fanOutLater(channel, envelopes),
    );
    broker.onMessage((channel, payload) => {
      // One bad envelope is counted and dropped; it never reaches the broker's
      // connection (an exception there would end the relay) nor the next message.
      try {
        this.dispatch(channel, payload);
      } catch (err) {
        this.metrics?.internalErrors.inc({ kind: 'fanout' });
        this.logger.error({ err, channel, length: payload.length }, 'dropped an envelope that failed in fan-out');
      }
    });
  }

  /**
   * Adds `connection` to `channel`, subscribing the broker if it is the first
   * local subscriber. Resolves `true` when the broker subscription was not yet
   * active as this call began: a revoke published before it became active was
   * not seen here, so the caller must check access again.
   */
  async add(connection: Connection, channel: string, options: { holdPresence?: boolean } = {}): Promise<boolean> {
    let state = this.channels.get(channel);
    if (!state) {
      const created: ChannelState = { members: new Map(), ready: Promise.resolve(), active: false, held: new Map() };
      created.ready = this.broker.subscribe(channel).then(() => {
        created.active = true;
      });
      state = created;
      this.channels.set(channel, state);
      this.metrics?.channels.set(this.channels.size);
    }
    const wasActive = state.active;
    if (!state.members.has(connection)) {
      state.members.set(connection, Date.now());
      // Before the broker subscription is active: no event after it can slip past the snapshot.
      if (options.holdPresence) state.held.set(connection, newHold());
    }
    connection.subscriptions.add(channel);
    try {
      await state.ready;
    } catch (err) {
      this.remove(connection, channel);
      throw err;
    }
    return !wasActive;
  }

  /** Removes `connection` from `channel`; the last local subscriber releases the broker subscription. */
  remove(connection: Connection, channel: string): boolean {
    const had = connection.subscriptions.delete(channel);
    const state = this.channels.get(channel);
    if (!state?.members.delete(connection)) return had;
    state.held.delete(connection);
    if (state.members.size === 0) {
      this.channels.delete(channel);
      this.awareness.forget(channel);
      this.metrics?.channels.set(this.channels.size);
      this.broker.unsubscribe(channel).catch((err) => this.logger.warn({ err, channel }, 'broker unsubscribe failed'));
    }
    return had;
  }

  removeAll(connection: Connection): void {
    for (const channel of [...connection.subscriptions]) this.remove(connection, channel);
  }

  /** Ends a subscription whose access was revoked, and tells the client why. */
  evict(connection: Connection, channel: string): void {
    this.remove(connection, channel);
    this.onRevoked(connection, channel);
    connection.send({ type: 'unsubscribed', channel, reason: 'access_revoked' });
  }

  /**
   * Ends the hold on `connection`'s presence frames for `channel` (its snapshot
   * was sent) and sends what was held. When frames were dropped, answers
   * `retry` and holds on afresh (a newer snapshot is needed), or with `force`
   * ends the hold anyway and answers `lost`.
   */
  releasePresence(connection: Connection, channel: string, force = false): PresenceRelease {
    const held = this.channels.get(channel)?.held;
    const hold = held?.get(connection);
    if (!held || !hold) return 'released';
    if (hold.overflowed) {
      if (force) {
        held.delete(connection);
        return 'lost';
      }
      held.set(connection, newHold());
      return 'retry';
    }
    held.delete(connection);
    for (const frame of hold.frames) connection.sendRaw(frame);
    return 'released';
  }

  /** Local subscribers of `channel` not waiting for their first snapshot. */
  presenceAudience(channel: string): Connection[] {
    const state = this.channels.get(channel);
    return state ? [...state.members.keys()].filter((c) => !state.held.has(c)) : [];
  }

  /** Channels with local subscribers. */
  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /** Whether `userId` lost access to `channel` at or after `since` (epoch ms). */
  revokedSince(channel: string, userId: string, since: number): boolean {
    const at = this.revocations.get(`${channel}\n${userId}`);
    return at !== undefined && at >= since;
  }

  /** Every (channel, local subscriber) pair, as a snapshot. */
  *subscriptions(): Iterable<[string, Connection]> {
    for (const [channel, state] of [...this.channels]) for (const connection of [...state.members.keys()]) yield [channel, connection];
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** When `connection` subscribed to `channel` (epoch ms), or undefined when it is not subscribed. */
  subscribedAt(connection: Connection, channel: string): number | undefined {
    return this.channels.get(channel)?.members.get(connection);
  }

  subscriberCount(channel: string): number {
    return this.channels.get(channel)?.members.size ?? 0;
  }

  private dispatch(channel: string, payload: string): void {
    const state = this.channels.get(channel);
    if (!state) return; // unsubscribed while the message was in flight
    const envelope = decodeEnvelope(payload);
    if (!envelope || envelope.channel !== channel) {
      this.metrics?.invalidEnvelopes.inc();
      // The payload itself is not logged: it may be anything, of any size.
      this.logger.warn({ channel, length: payload.length }, 'dropped invalid envelope');
      return;
    }
    this.metrics?.envelopes.inc({ kind: envelope.kind });
    if (this.metrics) {
      // Only channels with local subscribers get here, so the kind is one access allowed.
      const kind = channel.slice(0, channel.indexOf(':'));
      const byKind = this.metrics.totals.envelopesByChannelKind;
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    if (envelope.kind === 'revoke') return this.revoke(state, envelope);
    if (envelope.kind === 'presence') return this.presence(state, envelope);
    if (envelope.kind === 'signal' && isCoalescedSignal(channel, envelope.event)) return this.awareness.offer(envelope);
    this.fanOut(state, frameOf(envelope), envelope.kind === 'signal' ? envelope.origin : undefined);
  }

  /** Sends `frame` to every local subscriber but the sending connection. */
  private fanOut(state: ChannelState, frame: SharedFrame, origin: string | undefined): void {
    let delivered = 0;
    for (const connection of state.members.keys()) {
      if (connection.id === origin) continue;
      if (connection.sendRaw(frame)) delivered++;
    }
    this.metrics?.deliveries.inc(delivered);
    if (this.metrics) this.metrics.totals.deliveries += delivered;
  }

  /** A coalescing window ended: its signals go to whoever is subscribed now. */
  private fanOutLater(channel: string, envelopes: SignalEnvelope[]): void {
    const state = this.channels.get(channel);
    if (!state) return;
    for (const envelope of envelopes) {
      try {
        this.fanOut(state, frameOf(envelope), envelope.origin);
      } catch (err) {
        this.metrics?.internalErrors.inc({ kind: 'fanout' });
        this.logger.error({ err, channel }, 'dropped an awareness signal that failed in fan-out');
      }
    }
  }

  /** Sends what coalescing windows hold now (tests, drain). */
  flushAwareness(): void {
    this.awareness.flush();
  }

  /** Stops the coalescing timer; what it held is dropped (signals are ephemeral). */
  close(): void {
    this.awareness.close();
  }

  private presence(state: ChannelState, envelope: Extract<Envelope, { kind: 'presence' }>): void {
    if (envelope.event === 'reset') {
      // A snapshot being read for a waiting subscriber may predate the reset: it must read again.
      for (const hold of state.held.values()) dropHeld(hold);
      return this.onPresenceReset(envelope.channel);
    }
    const frame = new SharedFrame(JSON.stringify({ type: envelope.event, channel: envelope.channel, userId: envelope.userId }));
    let delivered = 0;
    for (const connection of state.members.keys()) {
      const hold = state.held.get(connection);
      if (hold === undefined) {
        if (connection.sendRaw(frame)) delivered++;
        continue;
      }
      if (hold.overflowed) continue;
      if (envelope.userId === connection.userId) {
        // Its own join echoes the subscribe (the snapshot, read after it, holds the user), unless the user left meanwhile.
        if (envelope.event === 'join' && !hold.ownLeft) continue;
        if (envelope.event === 'leave') hold.ownLeft = true;
      }
      if (hold.frames.length < MAX_HELD_FRAMES) hold.frames.push(frame);
      else dropHeld(hold);
    }
    this.metrics?.deliveries.inc(delivered);
    if (this.metrics) this.metrics.totals.deliveries += delivered;
  }

  private revoke(state: ChannelState, envelope: Extract<Envelope, { kind: 'revoke' }>): void {
    const now = Date.now();
    this.revocations.set(`${envelope.channel}\n${envelope.userId}`, now);
    for (const [key, at] of this.revocations) if (now - at > REVOCATION_MEMORY_MS) this.revocations.delete(key);
    for (const connection of [...state.members.keys()]) {
      if (connection.userId === envelope.userId) this.evict(connection, envelope.channel);
    }
  }
}

function dropHeld(hold: PresenceHold): void {
  hold.overflowed = true;
  hold.frames = [];
}

/** The client frame for a broker envelope, serialized once per message. */
function frameOf(envelope: Extract<Envelope, { kind: 'message' | 'signal' }>): SharedFrame {
  if (envelope.kind === 'message') {
    const { channel, seq, id, event, data, ts } = envelope;
    return new SharedFrame(JSON.stringify({ type: 'message', channel, seq, id, event, data, ts }));
  }
  const { channel, event, userId, data } = envelope;
  return new SharedFrame(JSON.stringify({ type: 'signal', channel, event, userId, data }));
}
