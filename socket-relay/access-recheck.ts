/**
 * Every subscription's access, checked again on a timer: the backstop for a
 * revoke this relay never received (its publish failed, or pub/sub dropped
 * it while Redis stayed up). A subscription whose access was removed is ended
 * (`unsubscribed`, reason `access_revoked`) within `intervalMs` plus two
 * passes: the pass running as access changes may have read it already, the
 * next starts `intervalMs` after that one ends (see docs/protocol.md).
 *
 * A pass is cheap: each distinct (channel, user) pair is checked once however
 * many of the user's connections hold it, room memberships are read 100 to a
 * request (BatchGetItem, eventually consistent), and other kinds go through
 * the access policy, which needs no read for user channels. A membership the
 * batch did not find is confirmed through the policy (a consistent read)
 * before anything is ended: an eventually consistent read can miss a member
 * added a moment ago, and denials are rare. A check that fails keeps the
 * subscription: the next pass tries again.
 */
import type { Logger } from 'pino';
import { parseChannel } from '../protocol/index.js';
import type { AccessDecision } from '../shared/channel-access.js';
import type { Connection } from './connection.js';
import type { Hub } from './hub.js';
import { membershipKey, type MembershipBatchReader, type MembershipKey } from './membership-batch.js';
import type { RelayMetrics } from './metrics.js';

export interface RecheckDeps {
  hub: Hub;
  /** The access policy (one check per pair), for channels the batch reader does not cover. */
  access: { check(userId: string, channel: string): Promise<AccessDecision> };
  /** Room memberships in batches; without it, room channels go through `access` too. */
  memberships?: MembershipBatchReader;
  logger: Logger;
  metrics?: RelayMetrics;
}

export interface RecheckResult {
  /** Subscriptions looked at. */
  checked: number;
  /** Subscriptions ended because access is gone. */
  revoked: number;
  /** Distinct (channel, user) pairs whose check failed (kept until the next pass). */
  failed: number;
  /** Subscriptions still held after the pass. */
  kept: Array<[string, Connection]>;
}

/** Single checks in flight at once (user channels need no read; anything else does). */
const CONCURRENCY = 32;

type Verdict = 'allowed' | 'denied' | 'unknown';
const pairKey = (channel: string, userId: string) => `${channel}\n${userId}`;

/** One pass over every local subscription: ends those whose access is gone. */
export async function recheckSubscriptions(deps: RecheckDeps): Promise<RecheckResult> {
  // Verdicts are read after this moment: a subscription made later was checked by its own subscribe.
  const startedAt = Date.now();
  const subscriptions = [...deps.hub.subscriptions()];
  const verdicts = new Map<string, Verdict>();
  const rooms: Array<MembershipKey & { pair: string }> = [];
  const single: Array<{ pair: string; userId: string; channel: string }> = [];
  for (const [channel, connection] of subscriptions) {
    const pair = pairKey(channel, connection.userId);
    if (verdicts.has(pair)) continue;
    verdicts.set(pair, 'unknown');
    const parsed = deps.memberships ? parseChannel(channel) : null;
    if (parsed?.kind === 'room') rooms.push({ roomId: parsed.id, userId: connection.userId, pair });
    else single.push({ pair, userId: connection.userId, channel });
  }

  if (rooms.length > 0 && deps.memberships) {
    try {
      const { found, unread } = await deps.memberships.existing(rooms);
      if (unread.size > 0) deps.logger.warn({ unread: unread.size }, 'access re-check: some membership batches failed; keeping those subscriptions until the next pass');
      for (const r of rooms) {
        const key = membershipKey(r);
        if (found.has(key)) verdicts.set(r.pair, 'allowed');
        else if (!unread.has(key)) single.push({ pair: r.pair, userId: r.userId, channel: `room:${r.roomId}` }); // confirm before ending
      }
    } catch (err) {
      deps.logger.warn({ err, pairs: rooms.length }, 'access re-check: membership batch read failed; keeping those subscriptions until the next pass');
    }
  }
  let next = 0;
  const worker = async () => {
    while (next < single.length) {
      const { pair, userId, channel } = single[next++]!;
      try {
        verdicts.set(pair, (await deps.access.check(userId, channel)).allowed ? 'allowed' : 'denied');
      } catch (err) {
        deps.logger.warn({ err, channel }, 'access re-check failed; keeping the subscription until the next pass');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, single.length) }, worker));

  let revoked = 0;
  const kept: Array<[string, Connection]> = [];
  for (const [channel, connection] of subscriptions) {
    // Left (or closed) while the pass ran: nothing to end.
    if (connection.closed || !connection.subscriptions.has(channel)) continue;
    // Subscribed (again) to this channel while the pass ran: that subscribe checked access
    // itself (and checks again once its broker subscription is active), newer than our read.
    if ((deps.hub.subscribedAt(connection, channel) ?? 0) > startedAt) {
      kept.push([channel, connection]);
      continue;
    }
    if (verdicts.get(pairKey(channel, connection.userId)) === 'denied') {
      revoked++;
      deps.hub.evict(connection, channel);
    } else {
      kept.push([channel, connection]);
    }
  }
  const failed = [...verdicts.values()].filter((v) => v === 'unknown').length;
  if (revoked > 0) deps.metrics?.accessRechecks.inc({ result: 'revoked' }, revoked);
  if (failed > 0) deps.metrics?.accessRechecks.inc({ result: 'failed' }, failed);
  return { checked: subscriptions.length, revoked, failed, kept };
}

/**
 * Runs `recheckSubscriptions` every `intervalMs` (the first pass at a random
 * point of the first interval, so relays started together spread their reads).
 * Passes never overlap: the next is scheduled when one ends.
 */
export class AccessRecheck {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RecheckResult> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: RecheckDeps,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.schedule(Math.floor(Math.random() * this.intervalMs));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** A pass now, or the one in progress. */
  run(): Promise<RecheckResult> {
    return (this.running ??= recheckSubscriptions(this.deps).finally(() => {
      this.running = null;
    }));
  }

  /** A pass that starts now, or after the one in progress (which may have read before a change). */
  async runFresh(): Promise<RecheckResult> {
    if (this.running) await this.running.catch(() => {});
    return this.run();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.run()
        .then(
          ({ checked, revoked, failed }) => {
            if (revoked > 0 || failed > 0) this.deps.logger.info({ checked, revoked, failed }, 'access re-check pass');
          },
          (err) => this.deps.logger.error({ err }, 'access re-check pass failed'),
        )
        .finally(() => this.schedule(this.intervalMs));
    }, delayMs);
    this.timer.unref();
  }
}
