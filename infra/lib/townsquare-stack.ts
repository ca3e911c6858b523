/**
 * The whole deployment, composed from one construct per concern. Everything
 * configurable arrives through `TownsquareConfig` (validated CDK context).
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { routes as defaultRoutes, type RouteDefinition } from '../../functions/routes.js';
import { Alarms } from './alarms.js';
import { ApiFunctions } from './api-functions.js';
import type { TownsquareConfig } from './config.js';
import { DataTables } from './data-tables.js';
import { OpsDashboard } from './dashboard.js';
import { EdgeWaf } from './edge-waf.js';
import { Identity } from './identity.js';
import { DocumentSnapshots } from './document-snapshots.js';
import { LogBucket } from './log-bucket.js';
import { Network } from './network.js';
import type { PubSub } from './pubsub.js';
import { RedisCluster } from './redis-cluster.js';
import { RelayService } from './relay-service.js';
import { UpstashRedis } from './upstash-redis.js';

export interface TownsquareStackProps extends StackProps {
  config: TownsquareConfig;
  /** Absolute path of the repository root (handler entries and the relay Dockerfile are relative to it). */
  projectRoot: string;
  /** @default the routes of functions/routes.ts */
  routes?: readonly RouteDefinition[];
}

export class TownsquareStack extends Stack {
  readonly data: DataTables;
  readonly identity: Identity;
  readonly network: Network;
  readonly pubsub: PubSub;
  readonly api: ApiFunctions;
  readonly relay: RelayService;
  readonly alarms: Alarms;
  readonly dashboard: OpsDashboard;
  /** The relays' WAF web ACL, when this stack made it (CloudFront entry in us-east-1). */
  readonly waf?: EdgeWaf;
  /** The bucket of document snapshots too large for an item. */
  readonly snapshots: DocumentSnapshots;

  constructor(scope: Construct, id: string, props: TownsquareStackProps) {
    super(scope, id, props);
    const { config, projectRoot } = props;
    const destroyOnRemoval = config.dev;

    this.data = new DataTables(this, 'Tables', { destroyOnRemoval });
    this.identity = new Identity(this, 'Identity', { ...(config.jwt && { external: config.jwt }), destroyOnRemoval });
    const logs = new LogBucket(this, 'Logs', { destroyOnRemoval });
    this.snapshots = new DocumentSnapshots(this, 'DocumentSnapshots', { logBucket: logs.bucket, destroyOnRemoval });
    this.network = new Network(this, 'Network', {
      isolatedSubnets: config.redis === 'elasticache',
      logBucket: logs.bucket,
    });
    this.pubsub =
      config.redis === 'elasticache'
        ? new RedisCluster(this, 'Redis', {
            vpc: this.network.vpc,
            subnets: this.network.isolatedSubnets!,
            nodeType: config.redisNodeType,
            maintenanceWindow: config.redisMaintenanceWindow,
          })
        : new UpstashRedis(this, 'Upstash', { secretArn: config.upstashSecretArn! });

    const jwt = { issuer: this.identity.issuer, audience: this.identity.audience, jwksUrl: this.identity.jwksUrl };
    this.api = new ApiFunctions(this, 'Api', {
      routes: props.routes ?? defaultRoutes,
      projectRoot,
      data: this.data,
      snapshots: this.snapshots,
      pubsub: this.pubsub,
      jwt,
      notify: this.identity.notify,
      corsOrigins: config.corsOrigins,
      throttle: { rateLimit: config.apiRateLimit, burstLimit: config.apiBurstLimit },
      ...(config.messageRetentionDays !== undefined && { messageRetentionDays: config.messageRetentionDays }),
      destroyOnRemoval,
    });
    if (this.api.securityGroup) {
      this.network.allowEndpointsFrom(this.api.securityGroup, 'Publishing functions read the Redis auth token');
    }
    // A CloudFront web ACL can only be made in us-east-1 (see edge-waf.ts for the other regions).
    let webAclArn = config.wafWebAclArn;
    if (config.relayEntry === 'cloudfront' && !webAclArn && this.region === 'us-east-1') {
      this.waf = new EdgeWaf(this, 'Waf', { upgradesPerFiveMinutes: config.wafUpgradeLimit });
      webAclArn = this.waf.webAclArn;
    }
    this.relay = new RelayService(this, 'Relay', {
      vpc: this.network.vpc,
      subnets: this.network.publicSubnets,
      projectRoot,
      data: this.data,
      pubsub: this.pubsub,
      jwt,
      logBucket: logs.bucket,
      entry: config.relayEntry,
      ...(config.certificateArn && { certificateArn: config.certificateArn }),
      ...(webAclArn && { webAclArn }),
      ...(config.relayDomain && { domainName: config.relayDomain }),
      minTasks: config.relayMinTasks,
      maxTasks: config.relayMaxTasks,
      destroyOnRemoval,
    });
    // Private DNS routes the relays' Secrets Manager calls (ECS fetching REDIS_PASSWORD) to the endpoint too.
    this.network.allowEndpointsFrom(this.relay.securityGroup, 'ECS fetches the relay secrets on the task ENI');
    const redis = this.pubsub instanceof RedisCluster ? this.pubsub : undefined;
    this.alarms = new Alarms(this, 'Alarms', {
      functions: this.api.functions,
      stage: this.api.stage,
      tables: this.data.tables,
      relay: this.relay,
      ...(redis && { redis }),
      ...(config.alarmEmail && { alarmEmail: config.alarmEmail }),
    });
    this.dashboard = new OpsDashboard(this, 'Dashboard', {
      routes: props.routes ?? defaultRoutes,
      functions: this.api.functions,
      stage: this.api.stage,
      relay: this.relay,
      alarms: this.alarms,
      ...(redis && { redis }),
    });

    new CfnOutput(this, 'HttpApiUrl', { value: this.api.stage.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'WebSocketUrl', { value: this.relay.webSocketUrl, description: 'Relay WebSocket endpoint' });
    if (config.relayEntry === 'certificate') {
      new CfnOutput(this, 'RelayLoadBalancerDns', {
        value: this.relay.loadBalancer.loadBalancerDnsName,
        description: 'Point your relay DNS name (CNAME/alias) here',
      });
    }
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'Every alarm notifies this SNS topic' });
    new CfnOutput(this, 'JwtIssuer', { value: this.identity.issuer });
    new CfnOutput(this, 'JwtAudience', { value: this.identity.audience });
    new CfnOutput(this, 'NotifyScope', { value: this.identity.notify.scope });
    if (this.identity.userPool && this.identity.userPoolClient) {
      new CfnOutput(this, 'UserPoolId', { value: this.identity.userPool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: this.identity.userPoolClient.userPoolClientId });
    }
    if (this.identity.notifyClient && this.identity.tokenEndpoint) {
      // Backends get tokens for POST /notifications here (client credentials; the secret stays in Cognito).
      new CfnOutput(this, 'NotifyClientId', { value: this.identity.notifyClient.userPoolClientId });
      new CfnOutput(this, 'TokenEndpoint', { value: this.identity.tokenEndpoint });
    }
  }
}
