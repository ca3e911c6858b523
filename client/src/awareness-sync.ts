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
 *   client count stays bounded.
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
  /** Remote client id → the user who sent it first. */
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
    let clients: number[];
    try {
      bytes = fromBase64(update);
      clients = clientIdsOf(bytes);
    } catch (error) {
      this.host.onError(`an awareness update that does not decode was ignored: ${(error as Error).message}`, { userId });
      return;
    }
    const me = this.awareness.clientID;
    let fresh = 0;
    for (const id of clients) {
      const owner = this.owners.get(id);
      if (id === me || (owner !== undefined && owner !== userId)) {
        this.host.onError('an awareness update for a client of another user was ignored', { userId, clientId: id });
        return;
      }
      if (owner === undefined) fresh++;
    }
    if (this.owners.size + fresh > MAX_REMOTE_AWARENESS_CLIENTS) return;
    for (const id of clients) this.owners.set(id, userId);
    try {
      applyAwarenessUpdate(this.awareness, bytes, this);
    } catch (error) {
      this.host.onError(`an awareness update could not be applied: ${(error as Error).message}`, { userId });
    }
    if (ask === true) this.announce();
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
  }
}

/**
 * The client ids in an awareness update (lib0 encoding: a varuint count, then
 * per client a varuint id, a varuint clock and a varstring state). Throws when
 * the bytes are not one.
 */
export function clientIdsOf(bytes: Uint8Array): number[] {
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
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(varUint());
    varUint(); // clock
    const length = varUint();
    if (pos + length > bytes.length) throw new RangeError('truncated');
    pos += length;
  }
  if (pos !== bytes.length) throw new RangeError('trailing bytes');
  return ids;
}
