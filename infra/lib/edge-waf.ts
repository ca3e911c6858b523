/**
 * A WAF web ACL for the relays' CloudFront distribution: a rate-based rule on
 * WebSocket upgrades (`/ws`) per client IP, plus AWS's IP reputation list.
 *
 * CloudFront-scope web ACLs exist only in us-east-1. The main stack creates
 * this itself when it is deployed to us-east-1; elsewhere it is opt-in, from a
 * second stack in us-east-1 (`-c wafStack=true`, see app.ts and docs/deploy.md)
 * whose ARN the main stack takes as `-c wafWebAclArn=…`. Cross-region
 * references would hide that second region (and its CDK bootstrap) inside a
 * default `cdk deploy`, which then could not work the first time.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface EdgeWafProps {
  /**
   * WebSocket upgrades one client IP may make in any 5 minutes before it is
   * blocked. A reconnecting client with backoff makes a handful; an office
   * behind one NAT with many users makes one per user on a relay restart.
   * @default 1000
   */
  upgradesPerFiveMinutes?: number;
}

export class EdgeWaf extends Construct {
  readonly webAcl: CfnWebACL;
  readonly webAclArn: string;

  constructor(scope: Construct, id: string, props: EdgeWafProps = {}) {
    super(scope, id);
    const limit = props.upgradesPerFiveMinutes ?? 1000;
    if (!Number.isInteger(limit) || limit < 10 || limit > 2_000_000_000) {
      throw new Error('EdgeWaf: upgradesPerFiveMinutes must be an integer from 10 to 2,000,000,000 (WAF rate limit bounds)');
    }
    const metric = (name: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: name });
    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      description: 'Townsquare relays: WebSocket upgrade rate per IP, IP reputation',
      defaultAction: { allow: {} },
      visibilityConfig: metric('TownsquareRelayEdge'),
      rules: [
        {
          name: 'WebSocketUpgradesPerIp',
          priority: 0,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit,
              evaluationWindowSec: 300,
              aggregateKeyType: 'IP',
              scopeDownStatement: {
                byteMatchStatement: {
                  fieldToMatch: { uriPath: {} },
                  positionalConstraint: 'EXACTLY',
                  searchString: '/ws',
                  textTransformations: [{ priority: 0, type: 'NONE' }],
                },
              },
            },
          },
          visibilityConfig: metric('TownsquareWebSocketUpgradesPerIp'),
        },
        {
          name: 'AmazonIpReputationList',
          priority: 1,
          overrideAction: { none: {} },
          statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: 'AWSManagedRulesAmazonIpReputationList' } },
          visibilityConfig: metric('TownsquareIpReputation'),
        },
      ],
    });
    this.webAclArn = this.webAcl.attrArn;
  }
}

/** The web ACL alone, in us-east-1, for main stacks deployed to other regions. */
export class EdgeWafStack extends Stack {
  readonly waf: EdgeWaf;

  constructor(scope: Construct, id: string, props: StackProps & EdgeWafProps) {
    super(scope, id, { ...props, env: { ...props.env, region: 'us-east-1' } });
    this.waf = new EdgeWaf(this, 'Waf', props);
    new CfnOutput(this, 'WebAclArn', {
      value: this.waf.webAclArn,
      description: 'Pass to the main stack: -c wafWebAclArn=<this>',
    });
  }
}
