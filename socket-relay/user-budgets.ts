/**
 * What one user may hold and spend on this relay, whatever number of sockets
 * they spread it over: a connection cap, a signal budget and a subscribe
 * budget (each subscribe costs a membership read). An entry outlives the
 * user's last connection until its buckets could have refilled, so closing
 * every socket and reconnecting does not buy a fresh budget; memory follows
 * the users connected now or within that window.
 */
import { TokenBucket } from './token-bucket.js';

export interface UserBudgetLimits {
  /** Connections one user may hold on this relay. */
  maxConnections: number;
  /** Signals per second per user (bursts of twice that). */
  signalRate: number;
  /** Subscribe commands per second per user, and the burst a reconnecting client needs. */
  subscribeRate: number;
  subscribeBurst: number;
}

export class UserBudget {
  connections = 0;
  /** When the last connection closed (epoch ms); meaningful while `connections` is 0. */
  idleSince = 0;
  readonly signals: TokenBucket;
  readonly subscribes: TokenBucket;

  constructor(limits: UserBudgetLimits) {
    this.signals = new TokenBucket(limits.signalRate, limits.signalRate * 2);
    this.subscribes = new TokenBucket(limits.subscribeRate, limits.subscribeBurst);
  }
}

export class UserBudgets {
  private readonly users = new Map<string, UserBudget>();
  /** How long an idle entry is kept: long enough for both buckets to refill completely. */
  private readonly keepIdleMs: number;

  constructor(
    readonly limits: UserBudgetLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.keepIdleMs = Math.ceil(1000 * Math.max(2, limits.subscribeBurst / limits.subscribeRate)) + 1000;
  }

  /** Counts a new connection of `userId`; null when the user already holds the maximum. */
  acquire(userId: string): UserBudget | null {
    let budget = this.users.get(userId);
    if (!budget) this.users.set(userId, (budget = new UserBudget(this.limits)));
    if (budget.connections >= this.limits.maxConnections) return null;
    budget.connections++;
    return budget;
  }

  /** Called once per acquired connection when it closes. */
  release(userId: string): void {
    const budget = this.users.get(userId);
    if (budget && --budget.connections <= 0) {
      budget.connections = 0;
      budget.idleSince = this.now();
    }
  }

  /** Forgets users idle long enough that a fresh budget equals the one they had (call periodically). */
  sweep(): void {
    const cutoff = this.now() - this.keepIdleMs;
    for (const [userId, budget] of this.users) if (budget.connections === 0 && budget.idleSince <= cutoff) this.users.delete(userId);
  }

  get size(): number {
    return this.users.size;
  }
}
