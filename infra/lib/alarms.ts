/**
 * Alarms for the failures an operator must hear about. They have no actions
 * here: wire them to your paging topic with `alarm.addAlarmAction(...)` or in
 * the console, since where to page is a per-deployment decision.
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import type { RelayService } from './relay-service.js';

export interface AlarmsProps {
  functions: ReadonlyMap<string, NodejsFunction>;
  relay: RelayService;
}

export class Alarms extends Construct {
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    for (const [routeKey, fn] of props.functions) {
      // Handlers map domain errors to 4xx responses; an Errors datapoint is an unhandled failure.
      this.add(`Errors ${routeKey}`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), {
        threshold: 1,
        evaluationPeriods: 1,
        description: `${routeKey}: the function threw or timed out`,
      });
    }
    this.add('RelayCpu', props.relay.service.metricCpuUtilization({ period: Duration.minutes(5) }), {
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
    this.add('RelayRedisReconnects', props.relay.redisReconnectsMetric, {
      threshold: 10,
      evaluationPeriods: 1,
      description: 'Relays reconnected to Redis more than 10 times in 5 minutes: live delivery is degraded',
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
    this.alarms.push(
      new Alarm(this, id.replace(/[^A-Za-z0-9]/g, ''), {
        metric,
        threshold: o.threshold,
        evaluationPeriods: o.evaluationPeriods,
        comparisonOperator: o.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: o.missing ?? TreatMissingData.NOT_BREACHING,
        alarmDescription: o.description,
      }),
    );
  }
}
