/** Redis inspection helpers for tests. */
import { Redis } from 'ioredis';

/** `PUBSUB NUMSUB channel` → number of subscribed connections across the server. */
export async function numsub(url: string, channel: string): Promise<number> {
  const redis = new Redis(url);
  try {
    const [, count] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
    return Number(count);
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
