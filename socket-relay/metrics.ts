/**
 * Prometheus metrics for the relay (served on `/metrics`). Counters on the hot
 * path are incremented once per message, not once per delivery.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { PresenceCounts } from './presence.js';

export function createRelayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    connections: new Gauge({ name: 'relay_connections', help: 'Open authenticated connections', registers: [registry] }),
    channels: new Gauge({ name: 'relay_channels', help: 'Channels with a broker subscription', registers: [registry] }),
    envelopes: new Counter({
      name: 'relay_envelopes_total',
      help: 'Envelopes received from the broker, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    invalidEnvelopes: new Counter({
      name: 'relay_invalid_envelopes_total',
      help: 'Broker payloads dropped because they failed validation',
      registers: [registry],
    }),
    deliveries: new Counter({ name: 'relay_deliveries_total', help: 'Frames written to client sockets by fan-out', registers: [registry] }),
    disconnects: new Counter({
      name: 'relay_disconnects_total',
      help: 'Connections closed by the relay, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    clientErrors: new Counter({
      name: 'relay_client_errors_total',
      help: 'Error frames sent to clients, by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    internalErrors: new Counter({
      name: 'relay_internal_errors_total',
      help: 'Errors that reached the process-level handler (each one is a bug to fix), by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    brokerEvents: new Counter({
      name: 'relay_broker_events_total',
      help: 'Broker connection events (error, reconnecting, ready): many per outage',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    brokerLifecycle: new Counter({
      name: 'relay_broker_lifecycle_total',
      help: 'Broker delivery lifecycle (down, up, resubscribed): one down per outage',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    presenceErrors: new Counter({
      name: 'relay_presence_errors_total',
      help: 'Presence operations that failed in Redis, by operation',
      labelNames: ['op'] as const,
      registers: [registry],
    }),
    presenceEvents: new Counter({
      name: 'relay_presence_events_total',
      help: 'Presence events this relay\'s changes published or suppressed (above the event limit), by event',
      labelNames: ['event', 'outcome'] as const,
      registers: [registry],
    }),
    presenceSwept: new Counter({
      name: 'relay_presence_swept_total',
      help: 'Expired presence entries (of a relay that stopped rewriting them) this relay removed',
      registers: [registry],
    }),
    presenceRepairs: new Counter({
      name: 'relay_presence_repairs_total',
      help: 'Presence key pairs found half-evicted and dropped (subscribers re-snapshot; relays write their entries back)',
      registers: [registry],
    }),
    presenceHeartbeatSkips: new Counter({
      name: 'relay_presence_heartbeat_skips_total',
      help: 'Presence heartbeat turns skipped because the channel\'s previous one was still running (Redis slow)',
      registers: [registry],
    }),
    presenceHoldsLost: new Counter({
      name: 'relay_presence_holds_lost_total',
      help: 'New subscribers whose held join/leave frames still overflowed after the last snapshot attempt (a channel refresh follows)',
      registers: [registry],
    }),
    accessRechecks: new Counter({
      name: 'relay_access_recheck_total',
      help: 'Periodic or after-outage access re-check outcomes: subscriptions revoked, (channel, user) checks failed',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    /**
     * Running totals for the CloudWatch line (taken and reset once a minute): prom-client's
     * counters only read asynchronously.
     */
    totals: { deliveries: 0, envelopesByChannelKind: new Map<string, number>() },
  };
  return m;
}

/** Adds one presence script run's outcome to the counters. */
export function countPresence(metrics: RelayMetrics, counts: PresenceCounts): void {
  const add = (event: string, outcome: string, n: number) => n > 0 && metrics.presenceEvents.inc({ event, outcome }, n);
  add('join', 'published', counts.joins);
  add('leave', 'published', counts.leaves);
  add('reset', 'published', counts.resets);
  add('join', 'suppressed', counts.suppressedJoins);
  add('leave', 'suppressed', counts.suppressedLeaves);
  if (counts.swept > 0) metrics.presenceSwept.inc(counts.swept);
  if (counts.repaired > 0) metrics.presenceRepairs.inc(counts.repaired);
}

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
