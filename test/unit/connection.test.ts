/** Connection limits applied when frames arrive: rate, and commands waiting behind a slow one. */
import { describe, expect, it } from 'vitest';
import { UserBudget } from '../../socket-relay/user-budgets.js';
import { Connection, MAX_QUEUED_COMMANDS, type Transport } from '../../socket-relay/connection.js';

const transport: Transport = { send: () => {}, close: () => {}, bufferedAmount: 0 };
const budget = () => new UserBudget({ maxConnections: 10, signalRate: 5, subscribeRate: 50, subscribeBurst: 200 });
const limits = { maxSubscriptions: 10, maxBufferedBytes: 1024, frameRate: 1000, frameBurst: 1000, maxSignalBytes: 4096 };

describe('Connection.admit', () => {
  it('refuses frames once MAX_QUEUED_COMMANDS wait behind a blocked command, and admits again when they drain', async () => {
    const connection = new Connection('c1', 'alice', transport, limits, budget());
    let unblock!: () => void;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    const done: Promise<void>[] = [];
    for (let i = 0; i < MAX_QUEUED_COMMANDS; i++) {
      expect(connection.admit()).toBe('ok');
      done.push(connection.enqueue(() => blocked));
    }
    expect(connection.admit()).toBe('queue_full');
    unblock();
    await Promise.all(done);
    expect(connection.admit()).toBe('ok');
  });

  it('refuses frames over the burst', () => {
    const connection = new Connection('c2', 'bob', transport, { ...limits, frameRate: 1, frameBurst: 3 }, budget());
    expect([1, 2, 3, 4].map(() => connection.admit())).toEqual(['ok', 'ok', 'ok', 'flood']);
  });

  it('rate-limits signals separately, bursting to twice the rate', () => {
    const connection = new Connection('c3', 'carol', transport, limits, budget());
    const taken = Array.from({ length: 12 }, () => connection.takeSignal());
    expect(taken.filter(Boolean)).toHaveLength(10);
  });
});
