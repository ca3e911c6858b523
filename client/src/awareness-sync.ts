/**
 * A y-protocols `Awareness` kept in sync over the document channel's
 * ephemeral signals (event `awareness`, data `{update: base64, ask?}`).
 *
 * - Out: a change of the local state is sent as an awareness update holding
 *   only the local client; the subscription's signal throttle makes that at
 *   most one per `signalIntervalMs` (the last state wins), and relays coalesce
 *   per document on top (protocol/awareness.ts).
 * - In: an update is applied only when its client ids are not claimed by
 *   another user (first user seen with a client id owns it) and the remote
 *   states stay bounded (in all, and per user). Removals (null states) of
 *   clients we hold no state for are skipped: they would only grow memory.
 * - Newcomers: for a short while after (re)subscribing, signals carry
 *   `ask: true`; whoever receives one re-sends their own state, so a new tab
 *   sees everyone's cursor at once instead of at their next renewal.
 * - Staleness: a remote state not renewed for `timeoutMs` is dropped, and the
 *   local state is re-sent every half of it; a user's `leave` (their last
 *   connection left the channel) drops their states at once.
 */
import { applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates, type Awareness } from 'y-protocols/awareness';
import { fromBase64, toBase64 } from './base64.js';

/** Remote awareness clients one document keeps; updates introducing more are ignored (the relay's presence event limit). */
export const MAX_REMOTE_AWARENESS_CLIENTS = 500;
/** Remote awareness clients one user may hold on a document (tabs and devices); updates introducing more are ignored. */
export const MAX_AWARENESS_CLIENTS_PER_USER = 16;
/** How long after (re)subscribing outgoing signals ask the others to re-send theirs. */
export const ASK_WINDOW_MS = 1000;
/** Longest `update` text accepted in an incoming signal (the relay caps signals at 4 KiB). */
const MAX_UPDATE_CHARS = 8192;

export interface AwarenessSyncHost {
  /** Sends an awareness signal (throttled by the caller; dropped while not subscribed). */
  send(data: { update: string; ask?: true }): void;
  onError(message: string, context: Record<string, unknown>): void;
}

export class AwarenessSync {
  /** Remote client id → the user who sent its state first (only ids with a state, or until the next sweep). */
  private readonly owners = new Map<number, string>();
  private askUntil = 0;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly stopListening: () => void;

  constructor(
    readonly awareness: Awareness,
    private readonly host: AwarenessSyncHost,
    private readonly timeoutMs: number,
  ) {
    const onUpdate = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      if (origin === this) {
        for (const id of removed) this.owners.delete(id);
        return;
      }
      const me = this.awareness.clientID;
      if (added.includes(me) || updated.includes(me) || removed.includes(me)) this.sendLocal();
    };
    awareness.on('update', onUpdate);
    this.stopListening = () => awareness.off('update', onUpdate);
    this.sweeper = setInterval(() => this.sweep(), Math.max(100, Math.min(3000, Math.floor(timeoutMs / 10))));
    (this.sweeper as { unref?: () => void }).unref?.();
  }

  /** Subscribed (again): announce ourselves and ask the others for their states. */
  subscribed(): void {
    this.askUntil = Date.now() + ASK_WINDOW_MS;
    this.announce();
  }

  /** An `awareness` signal from `userId`. */
  receive(userId: string, data: unknown): void {
    const { update, ask } = (data ?? {}) as { update?: unknown; ask?: unknown };
    if (typeof update !== 'string' || update.length > MAX_UPDATE_CHARS) {
      this.host.onError('an awareness signal without a valid update was ignored', { userId });
      return;
    }
    let bytes: Uint8Array;
    let entries: AwarenessEntry[];
    try {
      bytes = fromBase64(update);
      entries = awarenessEntriesOf(bytes);
    } catch (error) {
      this.host.onError(`an awareness update that does not decode was ignored: ${(error as Error).message}`, { userId });
      return;
    }
    const me = this.awareness.clientID;
    for (const { id } of entries) {
      const owner = this.owners.get(id);
      if (id === me || (owner !== undefined && owner !== userId)) {
        this.host.onError('an awareness update for a client of another user was ignored', { userId, clientId: id });
        return;
      }
    }
    // A removal of a client we hold no state for changes nothing we show.
    const kept = entries.filter(({ id, removal }) => !removal || this.awareness.states.has(id));
    const fresh = kept.filter(({ id, removal }) => !removal && !this.awareness.states.has(id)).length;
    if (fresh > 0 && !this.roomFor(userId, fresh)) return;
    if (kept.length > 0) {
      try {
        applyAwarenessUpdate(this.awareness, kept.length === entries.length ? bytes : joinEntries(bytes, kept), this);
      } catch (error) {
        this.host.onError(`an awareness update could not be applied: ${(error as Error).message}`, { userId });
      }
      for (const { id } of kept) if (this.awareness.states.has(id)) this.owners.set(id, userId);
    }
    if (ask === true) this.announce();
  }

  /** Whether `fresh` more remote states fit, in all and for `userId`. */
  private roomFor(userId: string, fresh: number): boolean {
    const me = this.awareness.clientID;
    const remote = this.awareness.states.size - (this.awareness.states.has(me) ? 1 : 0);
    if (remote + fresh > MAX_REMOTE_AWARENESS_CLIENTS) return false;
    let theirs = 0;
    for (const [id, owner] of this.owners) if (owner === userId && this.awareness.states.has(id)) theirs++;
    if (theirs + fresh > MAX_AWARENESS_CLIENTS_PER_USER) {
      this.host.onError(`an awareness update was ignored: a user holds at most ${MAX_AWARENESS_CLIENTS_PER_USER} awareness clients`, { userId });
      return false;
    }
    return true;
  }

  /** The user's last connection left the channel: their cursors go now. */
  userLeft(userId: string): void {
    const gone = [...this.owners].filter(([, owner]) => owner === userId).map(([id]) => id);
    if (gone.length > 0) removeAwarenessStates(this.awareness, gone, this);
  }

  /** Users with an awareness state, by client id (who is behind each remote cursor). */
  userOf(clientId: number): string | undefined {
    return this.owners.get(clientId);
  }

  destroy(): void {
    clearInterval(this.sweeper);
    this.stopListening();
    // Tell the others we are gone (sent only while still subscribed).
    if (this.awareness.getLocalState() !== null) {
      this.awareness.setLocalState(null);
      this.sendLocal(false);
    }
  }

  /**
   * Sends the local state with a new clock: a receiver that dropped it (timeout,
   * leave) applies only a clock newer than the last it saw.
   */
  private announce(): void {
    const state = this.awareness.getLocalState();
    if (state === null) this.sendLocal();
    else this.awareness.setLocalState(state); // the update event sends it
  }

  /** Sends the local client's state (null once removed). */
  private sendLocal(mayAsk = true): void {
    const update = toBase64(encodeAwarenessUpdate(this.awareness, [this.awareness.clientID]));
    this.host.send(mayAsk && Date.now() < this.askUntil ? { update, ask: true } : { update });
  }

  /** Drops remote states not renewed within the timeout; renews the local one at half of it. */
  private sweep(): void {
    const now = Date.now();
    const stale: number[] = [];
    for (const [id, meta] of this.awareness.meta) {
      if (id === this.awareness.clientID) {
        if (this.awareness.getLocalState() !== null && now - meta.lastUpdated >= this.timeoutMs / 2) {
          this.awareness.setLocalState(this.awareness.getLocalState()); // bumps the clock; the update event sends it
        }
      } else if (this.awareness.states.has(id) && now - meta.lastUpdated >= this.timeoutMs) {
        stale.push(id);
      }
    }
    if (stale.length > 0) removeAwarenessStates(this.awareness, stale, this);
    // Ids without a state: their owner entries are orphans, and their clocks (kept by y-protocols
    // forever) matter only against a late replay, which a timeout makes moot.
    for (const id of this.owners.keys()) if (!this.awareness.states.has(id)) this.owners.delete(id);
    for (const [id, meta] of this.awareness.meta) {
      if (id !== this.awareness.clientID && !this.awareness.states.has(id) && now - meta.lastUpdated >= this.timeoutMs) this.awareness.meta.delete(id);
    }
  }
}

/** One client's entry in an awareness update: its id, whether it removes the client (state `null`), and where its bytes are. */
export interface AwarenessEntry {
  id: number;
  removal: boolean;
  start: number;
  end: number;
}

const NULL_STATE = [0x6e, 0x75, 0x6c, 0x6c]; // the JSON text `null`

/**
 * The entries of an awareness update (lib0 encoding: a varuint count, then
 * per client a varuint id, a varuint clock and a varstring state). Throws when
 * the bytes are not one.
 */
export function awarenessEntriesOf(bytes: Uint8Array): AwarenessEntry[] {
  let pos = 0;
  const varUint = (): number => {
    let value = 0;
    let mult = 1;
    for (;;) {
      if (pos >= bytes.length) throw new RangeError('truncated');
      const byte = bytes[pos++]!;
      value += (byte & 0x7f) * mult;
      if (byte < 0x80) return value;
      mult *= 128;
      if (mult > 2 ** 53) throw new RangeError('varuint too long');
    }
  };
  const count = varUint();
  if (count > MAX_REMOTE_AWARENESS_CLIENTS) throw new RangeError(`${count} clients in one update`);
  const entries: AwarenessEntry[] = [];
  for (let i = 0; i < count; i++) {
    const start = pos;
    const id = varUint();
    varUint(); // clock
    const length = varUint();
    if (pos + length > bytes.length) throw new RangeError('truncated');
    const removal = length === NULL_STATE.length && NULL_STATE.every((byte, k) => bytes[pos + k] === byte);
    pos += length;
    entries.push({ id, removal, start, end: pos });
  }
  if (pos !== bytes.length) throw new RangeError('trailing bytes');
  return entries;
}

/** An awareness update holding only `entries` of `bytes`. */
function joinEntries(bytes: Uint8Array, entries: AwarenessEntry[]): Uint8Array {
  const count: number[] = [];
  for (let n = entries.length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      count.push(n);
      break;
    }
    count.push((n & 0x7f) | 0x80);
  }
  const out = new Uint8Array(count.length + entries.reduce((sum, e) => sum + e.end - e.start, 0));
  out.set(count, 0);
  let at = count.length;
  for (const { start, end } of entries) {
    out.set(bytes.subarray(start, end), at);
    at += end - start;
  }
  return out;
}
