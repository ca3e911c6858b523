/**
 * Alarms for the failures an operator must hear about, all sent to one SNS
 * topic (subscribe an address with `-c alarmEmail=…`, or anything else to the
 * `AlarmTopicArn` output).
 *
 * Function errors count both kinds: the Lambda `Errors` metric (a throw or a
 * timeout) and errors the handler caught and logged at ERROR (every 500 answer,
 * and failures after a stored write such as a failed publish), which `Errors`
 * never sees, counted from each function's log group.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { HttpCodeElb } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { FilterPattern, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { RedisCluster } from './redis-cluster.js';
import type { RelayService } from './relay-service.js';

export const FUNCTION_METRICS_NAMESPACE = 'Townsquare/Functions';

export interface AlarmsProps {
  functions: ReadonlyMap<string, NodejsFunction>;
  stage: HttpStage;
  tables: Readonly<Record<string, Table>>;
  relay: RelayService;
  /** ElastiCache mode only. */
  redis?: RedisCluster;
  /** Subscribed to the alarm topic (confirm the email AWS sends). */
  alarmEmail?: string;
}

export class Alarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  /** Per route key: errors the handler logged at ERROR (500 answers, failed publishes). */
  readonly loggedErrors = new Map<string, Metric>();

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', { displayName: 'Townsquare alarms', enforceSSL: true });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names and states, no user data; the AWS-managed SNS key would stop CloudWatch from publishing, and a customer key costs more than the topic.',
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const five = Duration.minutes(5);

    for (const [routeKey, fn] of props.functions) {
      const name = routeKey.replace(/[^A-Za-z0-9]+/g, '');
      // Powertools logs JSON with "level"; http.ts logs every error it turns into a 500 at ERROR.
      new MetricFilter(this, `LoggedErrors${name}`, {
        logGroup: fn.logGroup,
        filterPattern: FilterPattern.stringValue('$.level', '=', 'ERROR'),
        metricNamespace: FUNCTION_METRICS_NAMESPACE,
        metricName: `LoggedErrors-${name}`,
        metricValue: '1',
      });
      const logged = new Metric({ namespace: FUNCTION_METRICS_NAMESPACE, metricName: `LoggedErrors-${name}`, statistic: 'Sum', period: five });
      this.loggedErrors.set(routeKey, logged);
      this.add(
        `Errors ${routeKey}`,
        new MathExpression({
          expression: 'FILL(thrown, 0) + FILL(logged, 0)',
          usingMetrics: { thrown: fn.metricErrors({ period: five, statistic: 'Sum' }), logged },
          period: five,
          label: `${routeKey} errors (thrown + logged)`,
        }),
        { threshold: 1, evaluationPeriods: 1, description: `${routeKey}: the function threw, timed out, or logged an error (a 500 answer, a failed publish)` },
      );
    }

    this.add('Api5xx', props.stage.metricServerError({ period: five, statistic: 'Sum' }), {
      threshold: 5,
      evaluationPeriods: 1,
      description: 'HTTP API answered 5xx at least 5 times in 5 minutes (function failures, Lambda throttles, integration timeouts)',
    });
    this.add('ApiLatencyP99', props.stage.metricLatency({ period: five, statistic: 'p99' }), {
      threshold: 2000,
      evaluationPeriods: 3,
      description: 'HTTP API p99 latency above 2 s for 15 minutes',
    });

    for (const [name, table] of Object.entries(props.tables)) {
      this.add(
        `DynamoThrottles ${name}`,
        new MathExpression({
          expression: 'FILL(r, 0) + FILL(w, 0)',
          usingMetrics: {
            r: table.metric('ReadThrottleEvents', { period: five, statistic: 'Sum' }),
            w: table.metric('WriteThrottleEvents', { period: five, statistic: 'Sum' }),
          },
          period: five,
          label: `${name} throttle events`,
        }),
        { threshold: 1, evaluationPeriods: 1, description: `DynamoDB throttled requests on the ${name} table` },
      );
    }

    if (props.redis) {
      const max = (metricName: string, label: string) => {
        const nodes = props.redis!.nodeMetrics(metricName);
        return new MathExpression({
          expression: `MAX([${nodes.map((_, i) => `n${i}`).join(', ')}])`,
          usingMetrics: Object.fromEntries(nodes.map((m, i) => [`n${i}`, m])),
          period: five,
          label,
        });
      };
      this.add('RedisEngineCpu', max('EngineCPUUtilization', 'Redis engine CPU % (max node)'), {
        threshold: 80,
        evaluationPeriods: 3,
        description: 'A Redis node’s engine thread above 80% for 15 minutes: add shards or a larger node type',
      });
      this.add('RedisMemory', max('DatabaseMemoryUsagePercentage', 'Redis memory % (max node)'), {
        threshold: 80,
        evaluationPeriods: 2,
        description: 'A Redis node above 80% memory (pub/sub output buffers of slow subscribers grow here)',
      });
      this.add('RedisReplicationLag', max('ReplicationLag', 'Redis replication lag s (max replica)'), {
        threshold: 5,
        evaluationPeriods: 3,
        description: 'A Redis replica more than 5 s behind for 15 minutes: a failover now would lose recent state',
      });
    }

    const alb = props.relay.loadBalancer.metrics;
    this.add('RelayLoadBalancer5xx', alb.httpCodeElb(HttpCodeElb.ELB_5XX_COUNT, { period: five, statistic: 'Sum' }), {
      threshold: 10,
      evaluationPeriods: 1,
      description: 'The relay load balancer answered 5xx (no healthy relay, or relays refusing) 10+ times in 5 minutes',
    });
    this.add('RelayRejectedConnections', alb.rejectedConnectionCount({ period: five, statistic: 'Sum' }), {
      threshold: 1,
      evaluationPeriods: 1,
      description: 'The relay load balancer rejected connections (its connection limit)',
    });
    this.add('RelayCpu', props.relay.service.metricCpuUtilization({ period: five }), {
      threshold: 85,
      evaluationPeriods: 3,
      description: 'Relays above 85% CPU for 15 minutes: autoscaling (target 60%) is not keeping up or is at maxTasks',
    });
    this.add(
      'RelayHealthyHosts',
      props.relay.targetGroup.metrics.healthyHostCount({ statistic: 'Minimum', period: Duration.minutes(1) }),
      {
        threshold: 1,
        evaluationPeriods: 3,
        comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
        missing: TreatMissingData.BREACHING,
        description: 'No healthy relay behind the load balancer for 3 minutes',
      },
    );
    const insights = (metricName: string) =>
      new Metric({
        namespace: 'ECS/ContainerInsights',
        metricName,
        dimensionsMap: { ClusterName: props.relay.cluster.clusterName, ServiceName: props.relay.service.serviceName },
        statistic: 'Minimum',
        period: Duration.minutes(1),
      });
    this.add(
      'RelayTasksBelowDesired',
      new MathExpression({
        expression: 'desired - running',
        usingMetrics: { desired: insights('DesiredTaskCount'), running: insights('RunningTaskCount') },
        period: Duration.minutes(1),
        label: 'relay tasks missing',
      }),
      {
        threshold: 1,
        evaluationPeriods: 10,
        description: 'Fewer relay tasks running than desired for 10 minutes (tasks failing to start: image, secrets, network)',
      },
    );
    // Outages, not retry attempts: one failover is one outage per relay, however many
    // retries it took. Outages in two 5-minute windows running means Redis is flapping.
    this.add('RelayRedisOutages', props.relay.redisOutagesMetric, {
      threshold: 1,
      evaluationPeriods: 2,
      description: 'Relays lost Redis pub/sub in two consecutive 5-minute windows (flapping): live delivery is degraded',
    });
    // One long outage reports a single `down`: this one catches it.
    this.add('RelayRedisDown', props.relay.redisDownMetric, {
      threshold: 1,
      evaluationPeriods: 3,
      description: 'A relay has had no Redis pub/sub for 3 minutes: live delivery is down (messages are stored; clients backfill later)',
    });
  }

  private add(
    id: string,
    metric: IMetric,
    o: {
      threshold: number;
      evaluationPeriods: number;
      description: string;
      comparison?: ComparisonOperator;
      missing?: TreatMissingData;
    },
  ): void {
    const alarm = new Alarm(this, id.replace(/[^A-Za-z0-9]/g, ''), {
      metric,
      threshold: o.threshold,
      evaluationPeriods: o.evaluationPeriods,
      comparisonOperator: o.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: o.missing ?? TreatMissingData.NOT_BREACHING,
      alarmDescription: o.description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
