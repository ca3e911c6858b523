/**
 * One CloudWatch dashboard for the whole deployment: live connections, send
 * rate and latency, the publishing functions' traffic, Redis health, and the
 * relay fleet. Every widget reads a metric that exists today (AWS service
 * metrics, and the relays' EMF `Connections` / `RedisOutages` / `RedisDown`).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import {
  Dashboard,
  GraphWidget,
  MathExpression,
  type IMetric,
  type IWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpCodeElb } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import type { RouteDefinition } from '../../functions/routes.js';
import type { Alarms } from './alarms.js';
import type { RedisCluster } from './redis-cluster.js';
import type { RelayService } from './relay-service.js';

export interface OpsDashboardProps {
  routes: readonly RouteDefinition[];
  functions: ReadonlyMap<string, NodejsFunction>;
  stage: HttpStage;
  relay: RelayService;
  alarms: Alarms;
  redis?: RedisCluster;
}

/** Route key of the durable send (messages per second, send latency). */
export const SEND_ROUTE = 'POST /rooms/{roomId}/messages';

export class OpsDashboard extends Construct {
  readonly dashboard: Dashboard;
  /** Widget titles, in order (for tests and docs). */
  readonly titles: string[] = [];

  constructor(scope: Construct, id: string, props: OpsDashboardProps) {
    super(scope, id);
    const minute = Duration.minutes(1);
    // Expression ids must be unique within a graph.
    let n = 0;
    const perSecond = (m: IMetric, label: string) => {
      const id = `m${n++}`;
      return new MathExpression({ expression: `FILL(${id}, 0) / PERIOD(${id})`, usingMetrics: { [id]: m }, period: minute, label });
    };
    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: `${Stack.of(this).stackName}-operations` });
    const widgets: IWidget[] = [];
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) => {
      this.titles.push(title);
      widgets.push(new GraphWidget({ title, left, right, width: 12, height: 6 }));
    };

    graph('Live WebSocket connections (sum over relays)', [
      props.relay.connectionsMetric.with({ statistic: 'Sum', label: 'connections' }),
    ]);
    const send = props.functions.get(SEND_ROUTE);
    if (send) {
      graph('Messages sent per second (durable room messages)', [perSecond(send.metricInvocations({ period: minute, statistic: 'Sum' }), 'sends/s')]);
      graph('Send latency (function duration)', [
        send.metricDuration({ period: minute, statistic: 'p99', label: 'p99' }),
        send.metricDuration({ period: minute, statistic: 'p50', label: 'p50' }),
      ]);
    }
    // Publishes by channel kind: each publishing route publishes on one kind of channel.
    graph(
      'Publishing calls per second, by route',
      props.routes
        .filter((r) => r.publishes)
        .map((r) => perSecond(props.functions.get(r.routeKey)!.metricInvocations({ period: minute, statistic: 'Sum' }), r.routeKey)),
    );
    graph('HTTP API requests, 4xx, 5xx', [props.stage.metricCount({ period: minute, statistic: 'Sum', label: 'requests' })], [
      props.stage.metricClientError({ period: minute, statistic: 'Sum', label: '4xx' }),
      props.stage.metricServerError({ period: minute, statistic: 'Sum', label: '5xx' }),
    ]);
    graph('HTTP API latency', [
      props.stage.metricLatency({ period: minute, statistic: 'p99', label: 'p99' }),
      props.stage.metricLatency({ period: minute, statistic: 'p50', label: 'p50' }),
    ]);
    graph(
      'Function errors (thrown + logged at ERROR)',
      [...props.functions.entries()].map(([routeKey, fn], i) =>
        new MathExpression({
          expression: `FILL(t${i}, 0) + FILL(l${i}, 0)`,
          usingMetrics: {
            [`t${i}`]: fn.metricErrors({ period: minute, statistic: 'Sum' }),
            [`l${i}`]: props.alarms.loggedErrors.get(routeKey)!.with({ period: minute }),
          },
          period: minute,
          label: routeKey,
        }),
      ),
    );
    if (props.redis) {
      graph('Redis engine CPU % and memory % (per node)', props.redis.nodeMetrics('EngineCPUUtilization', { period: minute }), props.redis.nodeMetrics('DatabaseMemoryUsagePercentage', { period: minute }));
      graph('Redis pub/sub: connections and replication lag', props.redis.nodeMetrics('CurrConnections', { period: minute }), props.redis.nodeMetrics('ReplicationLag', { period: minute }));
    }
    graph('Relay Redis outages (all relays) and Redis down (any relay)', [props.relay.redisOutagesMetric], [props.relay.redisDownMetric]);
    graph('Relays: CPU % and tasks', [props.relay.service.metricCpuUtilization({ period: minute })], [
      props.relay.targetGroup.metrics.healthyHostCount({ period: minute, statistic: 'Minimum', label: 'healthy tasks' }),
    ]);
    graph('Relay load balancer: new connections, rejected, 5xx', [
      props.relay.loadBalancer.metrics.newConnectionCount({ period: minute, statistic: 'Sum', label: 'new connections' }),
    ], [
      props.relay.loadBalancer.metrics.rejectedConnectionCount({ period: minute, statistic: 'Sum', label: 'rejected' }),
      props.relay.loadBalancer.metrics.httpCodeElb(HttpCodeElb.ELB_5XX_COUNT, { period: minute, statistic: 'Sum', label: 'ELB 5xx' }),
    ]);
    graph('Relays: deliveries per second (frames written to sockets)', [perSecond(props.relay.deliveriesMetric, 'deliveries/s')]);
    // Each relay counts what reaches it for its own subscribers: a message on a channel
    // subscribed on three relays counts three times, as the fan-out load it causes.
    graph(
      'Relays: envelopes per second by channel kind (durable messages and signals)',
      ['room', 'user', 'document'].map((kind) => perSecond(props.relay.envelopesMetric(kind), kind)),
    );
    this.dashboard.addWidgets(...widgets);
  }
}
