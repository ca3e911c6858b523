/** The relay's CloudWatch embedded-metric line: the shape CloudWatch Logs extracts metrics from. */
import { describe, expect, it } from 'vitest';
import { emfLine, startEmfMetrics } from '../../socket-relay/emf-metrics.js';

describe('emfLine', () => {
  it('declares Connections, RedisOutages and RedisDown under the Service dimension', () => {
    const line = JSON.parse(emfLine({ namespace: 'Townsquare/Relay', service: 'svc' }, { connections: 12, redisOutages: 3, redisDown: true }, 1000));
    expect(line).toEqual({
      _aws: {
        Timestamp: 1000,
        CloudWatchMetrics: [
          {
            Namespace: 'Townsquare/Relay',
            Dimensions: [['Service']],
            Metrics: [
              { Name: 'Connections', Unit: 'Count' },
              { Name: 'RedisOutages', Unit: 'Count' },
              { Name: 'RedisDown', Unit: 'Count' },
              { Name: 'Deliveries', Unit: 'Count' },
            ],
          },
        ],
      },
      Service: 'svc',
      Connections: 12,
      RedisOutages: 3,
      RedisDown: 1,
      Deliveries: 0,
    });
  });

  it('adds one Envelopes line per channel kind, under the Service and ChannelKind dimensions', async () => {
    const lines: string[] = [];
    let byKind = new Map([
      ['room', 7],
      ['user', 2],
    ]);
    const stop = startEmfMetrics({
      namespace: 'N',
      service: 's',
      intervalMs: 20,
      connections: () => 1,
      takeRedisOutages: () => 0,
      redisDown: () => false,
      takeDeliveries: () => 700,
      takeEnvelopesByChannelKind: () => {
        const taken = byKind;
        byKind = new Map();
        return taken;
      },
      write: (l) => lines.push(l),
    });
    await new Promise((r) => setTimeout(r, 70));
    stop();
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed[0]).toMatchObject({ Deliveries: 700 });
    expect(parsed.slice(1, 3)).toEqual([
      expect.objectContaining({ ChannelKind: 'room', Envelopes: 7, _aws: expect.objectContaining({ CloudWatchMetrics: [expect.objectContaining({ Dimensions: [['Service', 'ChannelKind']] })] }) }),
      expect.objectContaining({ ChannelKind: 'user', Envelopes: 2 }),
    ]);
    // Taken, not re-sent: the next interval has no per-kind lines.
    expect(parsed.slice(3).every((l) => !('ChannelKind' in l))).toBe(true);
  });

  it('writes one line per interval with the outages since the previous one and whether Redis is down now', async () => {
    const lines: string[] = [];
    let outages = 2;
    let down = true;
    const stop = startEmfMetrics({
      namespace: 'N',
      service: 's',
      intervalMs: 20,
      connections: () => 5,
      takeRedisOutages: () => {
        const n = outages;
        outages = 0;
        return n;
      },
      redisDown: () => {
        const now = down;
        down = false;
        return now;
      },
      write: (l) => lines.push(l),
    });
    await new Promise((r) => setTimeout(r, 70));
    stop();
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.length).toBeGreaterThanOrEqual(2);
    expect(parsed.map((p) => p.RedisOutages).slice(0, 2)).toEqual([2, 0]);
    expect(parsed.map((p) => p.RedisDown).slice(0, 2)).toEqual([1, 0]);
    expect(parsed.every((p) => p.Connections === 5)).toBe(true);
  });
});
