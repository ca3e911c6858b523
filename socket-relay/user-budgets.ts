/**
 * What one user may hold and spend on this relay, whatever number of sockets
 * they spread it over: a connection cap, a signal budget and a subscribe
 * budget (each subscribe costs a membership read). Entries live while the
 * user has a connection here, so memory follows connected users.
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
  readonly signals: TokenBucket;
  readonly subscribes: TokenBucket;

  constructor(limits: UserBudgetLimits) {
    this.signals = new TokenBucket(limits.signalRate, limits.signalRate * 2);
    this.subscribes = new TokenBucket(limits.subscribeRate, limits.subscribeBurst);
  }
}

export class UserBudgets {
  private readonly users = new Map<string, UserBudget>();

  constructor(readonly limits: UserBudgetLimits) {}

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
    if (budget && --budget.connections <= 0) this.users.delete(userId);
  }

  get size(): number {
    return this.users.size;
  }
}
