// 60 writers in 4 processes race on one room through real DynamoDB (dynalite): seq stays gap-free and duplicate-free, and failed conditional writes stay at most 1 per stored message.
import { describe, expect, it } from 'vitest';
import { runRace } from './channel-log-race.harness.js';

describe('channel log under 60 racing writers', () => {
  it('stores every message once at seq 1..N with at most one failed conditional write per message', async () => {
    const result = await runRace({ impl: 'new', processes: 4, writersPerProcess: 15, messagesPerWriter: 5 });
    const total = 4 * 15 * 5;
    console.info(`channel log, 60 racing writers: ${result.failedConditionalWrites} failed conditional writes for ${result.seqs.length} messages (${result.failedPerStoredMessage.toFixed(2)} per message)`);
    expect(result.errors).toEqual([]);
    expect(result.sent).toBe(total);
    // Gap-free and duplicate-free: exactly 1..N, no tombstones (nobody crashed), each sent id stored once.
    expect(result.gaps).toBe(0);
    expect(result.gapFree).toBe(true);
    expect(result.seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(new Set(result.storedIds).size).toBe(total);
    expect([...result.storedIds].sort()).toEqual([...result.sentIds].sort());
    expect(result.failedPerStoredMessage).toBeLessThanOrEqual(1);
  }, 120_000);
});
