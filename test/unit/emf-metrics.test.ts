/** The relay's CloudWatch embedded-metric line: the shape CloudWatch Logs extracts metrics from. */
import { describe, expect, it } from 'vitest';
import { emfLine, startEmfMetrics } from '../../socket-relay/emf-metrics.js';

describe('emfLine', () => {
  it('declares Connections and RedisReconnects under the Service dimension', () => {
    const line = JSON.parse(emfLine({ namespace: 'Townsquare/Relay', service: 'svc' }, { connections: 12, redisReconnects: 3 }, 1000));
    expect(line).toEqual({
      _aws: {
        Timestamp: 1000,
        CloudWatchMetrics: [
          {
            Namespace: 'Townsquare/Relay',
            Dimensions: [['Service']],
            Metrics: [
              { Name: 'Connections', Unit: 'Count' },
              { Name: 'RedisReconnects', Unit: 'Count' },
            ],
          },
        ],
      },
      Service: 'svc',
      Connections: 12,
      RedisReconnects: 3,
    });
  });

  it('writes one line per interval with the reconnects since the previous one', async () => {
    const lines: string[] = [];
    let reconnects = 2;
    const stop = startEmfMetrics({
      namespace: 'N',
      service: 's',
      intervalMs: 20,
      connections: () => 5,
      takeRedisReconnects: () => {
        const n = reconnects;
        reconnects = 0;
        return n;
      },
      write: (l) => lines.push(l),
    });
    await new Promise((r) => setTimeout(r, 70));
    stop();
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.length).toBeGreaterThanOrEqual(2);
    expect(parsed.map((p) => p.RedisReconnects).slice(0, 2)).toEqual([2, 0]);
    expect(parsed.every((p) => p.Connections === 5)).toBe(true);
  });
});
