/**
 * Presence within one process (the embedded single-relay mode, with the
 * in-process broker). Same rules and same events as RedisPresence: the events
 * go through the broker as envelopes, so the hub turns them into the same
 * frames, in the order the changes happened.
 */
import type { Publisher } from '../broker/types.js';
import { encodeEnvelope, ENVELOPE_VERSION } from '../protocol/index.js';
import type { Connection } from './connection.js';
import type { Presence, PresenceCounts, PresenceMember, PresenceSnapshot } from './presence.js';
import { announcement, DEFAULT_PRESENCE_EVENT_LIMIT, hasPresence, type PresenceChange } from './presence-rules.js';

export interface MemoryPresenceOptions {
  /** @default DEFAULT_PRESENCE_EVENT_LIMIT */
  eventLimit?: number;
  onCounts?: (counts: PresenceCounts) => void;
  /** An event publish that failed (the in-process broker does not fail; kept for parity with Redis). */
  onError?: (op: PresenceChange, err: unknown) => void;
}

export class MemoryPresence implements Presence {
  /** channel → userId → that user's connections there. */
  private readonly channels = new Map<string, Map<string, Set<Connection>>>();
  private readonly eventLimit: number;

  constructor(
    private readonly publisher: Publisher,
    private readonly options: MemoryPresenceOptions = {},
  ) {
    this.eventLimit = options.eventLimit ?? DEFAULT_PRESENCE_EVENT_LIMIT;
  }

  async join(channel: string, connection: Connection): Promise<void> {
    if (!hasPresence(channel)) return;
    let users = this.channels.get(channel);
    if (!users) this.channels.set(channel, (users = new Map()));
    let connections = users.get(connection.userId);
    if (!connections) users.set(connection.userId, (connections = new Set()));
    if (connections.has(connection)) return;
    connections.add(connection);
    if (connections.size === 1) await this.announce(channel, 'join', connection.userId, users.size);
  }

  async leave(channel: string, connection: Connection): Promise<void> {
    const users = this.channels.get(channel);
    const connections = users?.get(connection.userId);
    if (!users || !connections?.delete(connection)) return;
    if (connections.size > 0) return;
    users.delete(connection.userId);
    if (users.size === 0) this.channels.delete(channel);
    await this.announce(channel, 'leave', connection.userId, users.size);
  }

  /** Like Redis's: every member, or above the event limit that many picked at random (HRANDFIELD), sorted. */
  async snapshot(channel: string): Promise<PresenceSnapshot> {
    const users = this.channels.get(channel) ?? new Map<string, Set<Connection>>();
    const members: PresenceMember[] = randomPick([...users], this.eventLimit)
      .map(([userId, connections]) => ({ userId, connections: connections.size }))
      .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    return { members, total: users.size };
  }

  async list(channel: string): Promise<PresenceMember[]> {
    return (await this.snapshot(channel)).members;
  }

  async close(): Promise<void> {
    this.channels.clear();
  }

  private async announce(channel: string, change: PresenceChange, userId: string, usersAfter: number): Promise<void> {
    const event = announcement(change, usersAfter, this.eventLimit);
    const counts = { joins: 0, leaves: 0, resets: 0, suppressedJoins: 0, suppressedLeaves: 0, swept: 0, repaired: 0 };
    if (event === 'join') counts.joins++;
    else if (event === 'leave') counts.leaves++;
    else if (event === 'reset') counts.resets++;
    else if (change === 'join') counts.suppressedJoins++;
    else counts.suppressedLeaves++;
    this.options.onCounts?.(counts);
    if (!event) return;
    // Published in the order of the changes: the in-process broker delivers in publish order.
    await this.publisher
      .publish(channel, encodeEnvelope({ v: ENVELOPE_VERSION, kind: 'presence', channel, event, userId }))
      .catch((err: unknown) => this.options.onError?.(change, err));
  }
}

/** `n` of `items` picked at random (all when there are no more), by a partial Fisher–Yates shuffle of `items` itself. */
function randomPick<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (items.length - i));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items.slice(0, n);
}
