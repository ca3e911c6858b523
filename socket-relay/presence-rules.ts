/**
 * What presence is and when it speaks, shared by the Redis and the in-memory
 * implementations (the Redis one applies the same rule inside its Lua script,
 * presence-scripts.ts): which channels have presence, the timings that bound
 * ghosts of a dead relay, and the member count above which join/leave events
 * stop.
 */
import { parseChannel } from '../protocol/index.js';

/** Presence exists on room and document channels; a `user:` channel is one person's own. */
export function hasPresence(channel: string): boolean {
  const kind = parseChannel(channel)?.kind;
  return kind === 'room' || kind === 'document';
}

/**
 * Present users above which a channel gets no join/leave events (the snapshot
 * and the `presence` query still answer, with this many members picked at
 * random plus `total`). Every join reaches every subscriber, so a channel of n members
 * filling up costs n² frames; at 500 that is 250,000 frames, beyond it the
 * fan-out of a join storm outgrows what a member list on screen is worth.
 */
export const DEFAULT_PRESENCE_EVENT_LIMIT = 500;

/**
 * Ghost bound (docs/protocol.md): an entry expires `PRESENCE_TTL_MS` after the
 * owning relay last wrote it; every relay rewrites its own entries and sweeps
 * all expired ones (publishing `leave`) every `PRESENCE_HEARTBEAT_MS` for each
 * presence channel it holds, each channel at its own fixed point of the
 * interval (presence-heartbeat.ts), so its runs stay one heartbeat apart. A
 * SIGKILLed relay's users therefore get their `leave` at most TTL + HEARTBEAT
 * = 20 s after the kill (plus the sweep runs and the pub/sub hop), on any
 * channel some live relay still holds; and at least TTL - HEARTBEAT = 10 s
 * after it. The TTL spans three heartbeats, so a live relay loses its entries
 * only after two consecutive missed (failed or skipped) rewrites.
 */
export const PRESENCE_TTL_MS = 15_000;
export const PRESENCE_HEARTBEAT_MS = 5_000;

export type PresenceChange = 'join' | 'leave';
/** What a change is announced as: its own event, a `reset` (the limit was crossed), or nothing. */
export type PresenceAnnouncement = PresenceChange | 'reset' | null;

/**
 * How a user's join or leave is announced, given the number of present users
 * after it. Events flow while the channel is at or under `limit` on both sides
 * of the change; the change that crosses the limit (either way) is a `reset`, so
 * subscribers swap their list for a fresh snapshot; changes beyond it are
 * suppressed. Mirrors the Lua in presence-scripts.ts.
 */
export function announcement(change: PresenceChange, usersAfter: number, limit: number): PresenceAnnouncement {
  const usersBefore = change === 'join' ? usersAfter - 1 : usersAfter + 1;
  if (usersAfter <= limit && usersBefore <= limit) return change;
  if (usersAfter > limit !== usersBefore > limit) return 'reset';
  return null;
}
