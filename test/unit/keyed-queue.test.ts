/** KeyedQueue: one task at a time per key, keys independent, failures do not block the queue. */
import { describe, expect, it } from 'vitest';
import { KeyedQueue } from '../../functions/domain/keyed-queue.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedQueue', () => {
  it('runs tasks of one key in order, one at a time, and other keys alongside', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const task = (name: string) => async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      running--;
      return name;
    };
    const other = queue.run('b', async () => {
      log.push('b');
      return 'b';
    });
    const results = await Promise.all([queue.run('a', task('1')), queue.run('a', task('2')), queue.run('a', task('3')), other]);
    expect(results).toEqual(['1', '2', '3', 'b']);
    expect(maxRunning).toBe(1);
    expect(log.filter((l) => l !== 'b')).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(log.indexOf('b')).toBeLessThan(log.indexOf('end 1'));
  });

  it('keeps going after a task fails, and passes the failure to its caller', async () => {
    const queue = new KeyedQueue();
    const failed = queue.run('a', async () => {
      throw new Error('boom');
    });
    const next = queue.run('a', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
