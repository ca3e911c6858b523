/**
 * The presence snapshots a relay sends on its own (no `ref`): one to each new
 * subscriber of a presence channel right after `subscribed`, and one to every
 * local subscriber when events cannot describe a change (the channel crossed
 * the event limit, or this relay's pub/sub was down and missed events).
 *
 * A new subscriber's join/leave frames are held by the hub from before its
 * broker subscription is active until its snapshot is out, then follow it: an
 * event published after the snapshot was read is never hidden by it, and one
 * from before it changes nothing (clients treat the list as a set).
 */
import type { Logger } from 'pino';
import type { ServerFrame } from '../protocol/index.js';
import { SharedFrame, type Connection } from './connection.js';
import type { Hub } from './hub.js';
import type { RelayMetrics } from './metrics.js';
import type { Presence, PresenceSnapshot } from './presence.js';
import { withTimeout } from '../shared/with-timeout.js';

/** A channel's subscribers get a fresh snapshot at most this often (a later request waits for the end of the interval). */
export const RESNAPSHOT_INTERVAL_MS = 5000;
/** Snapshots a new subscriber is sent at most while its held frames keep overflowing. */
const MAX_SNAPSHOT_ATTEMPTS = 3;
/** How long a new subscriber's snapshot may take: its connection's next commands wait behind it. */
const SNAPSHOT_TIMEOUT_MS = 2000;

export function snapshotFrame(channel: string, snapshot: PresenceSnapshot, ref?: string | number): ServerFrame {
  return { type: 'presence', channel, members: snapshot.members, total: snapshot.total, ...(ref !== undefined && { ref }) };
}

export class PresenceSnapshots {
  /** Per channel: when the last fresh snapshot was read, and whether another is due. */
  private readonly throttled = new Map<string, { timer: NodeJS.Timeout | null; again: boolean }>();

  constructor(
    private readonly hub: Hub,
    private readonly presence: Presence,
    private readonly logger: Logger,
    private readonly metrics?: RelayMetrics,
    private readonly intervalMs = RESNAPSHOT_INTERVAL_MS,
  ) {}

  /**
   * Sends a new subscriber its snapshot, then releases the frames held for it.
   * Best-effort: when presence cannot answer, no snapshot is sent (the client
   * may ask with `presence`), and held frames go out anyway. When the held
   * frames still overflow after the last attempt, that attempt's snapshot
   * stands and the channel's subscribers get a fresh one (`refresh`): the
   * events dropped after it are not lost for good.
   */
  async sendInitial(connection: Connection, channel: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const snapshot = await withTimeout(this.presence.snapshot(channel), SNAPSHOT_TIMEOUT_MS, 'presence snapshot timed out');
        // A revoke (or close) while it was read ended the subscription: nothing more about the channel goes out.
        if (!connection.subscriptions.has(channel)) return;
        connection.send(snapshotFrame(channel, snapshot));
      } catch (err) {
        this.logger.debug({ err, channel }, 'presence snapshot unavailable; subscribed without one');
        this.hub.releasePresence(connection, channel, true);
        return;
      }
      const release = this.hub.releasePresence(connection, channel, attempt >= MAX_SNAPSHOT_ATTEMPTS);
      if (release === 'retry') continue;
      if (release === 'lost') {
        this.metrics?.presenceHoldsLost.inc();
        this.logger.debug({ channel }, 'presence events kept overflowing a new subscriber; refreshing the channel');
        this.refresh(channel);
      }
      return;
    }
  }

  /**
   * Every local subscriber of `channel` gets a fresh snapshot: now, or at the
   * end of the current interval if one was sent less than `intervalMs` ago (so
   * a channel flapping across the limit costs one read per interval).
   */
  refresh(channel: string): void {
    const entry = this.throttled.get(channel);
    if (entry) {
      entry.again = true;
      return;
    }
    this.throttled.set(channel, { timer: null, again: false });
    this.broadcast(channel);
  }

  stop(): void {
    for (const entry of this.throttled.values()) if (entry.timer) clearTimeout(entry.timer);
    this.throttled.clear();
  }

  private broadcast(channel: string): void {
    const entry = this.throttled.get(channel)!;
    entry.timer = setTimeout(() => {
      this.throttled.delete(channel);
      if (entry.again) this.refresh(channel);
    }, this.intervalMs);
    entry.timer.unref();
    this.presence.snapshot(channel).then(
      (snapshot) => {
        const frame = new SharedFrame(JSON.stringify(snapshotFrame(channel, snapshot)));
        let delivered = 0;
        for (const connection of this.hub.presenceAudience(channel)) if (connection.sendRaw(frame)) delivered++;
        this.metrics?.deliveries.inc(delivered);
      },
      (err: unknown) => this.logger.warn({ err, channel }, 'presence snapshot for subscribers failed'),
    );
  }
}
