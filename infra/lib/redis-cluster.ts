/**
 * ElastiCache (Valkey 7, Redis OSS compatible) in cluster mode, so pub/sub can
 * grow into sharded pub/sub (SPUBLISH/SSUBSCRIBE) by adding shards. TLS in
 * transit, encryption at rest, an auth token from Secrets Manager, isolated
 * subnets, and a security group that only opens 6379 to the clients it is told
 * about.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { Port, SecurityGroup, type ISecurityGroup, type IVpc, type SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { CfnReplicationGroup, CfnSubnetGroup } from 'aws-cdk-lib/aws-elasticache';
import { Secret as EcsSecret } from 'aws-cdk-lib/aws-ecs';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { PubSub } from './pubsub.js';

export const REDIS_PORT = 6379;

export interface RedisClusterProps {
  vpc: IVpc;
  subnets: SubnetSelection;
  /** @default 'cache.t4g.micro' */
  nodeType?: string;
  /** Shards (node groups). Pub/sub traffic spreads over them with sharded pub/sub. @default 1 */
  shards?: number;
  /** Replicas per shard; at least 1 so a node failure fails over instead of losing the shard. @default 1 */
  replicasPerShard?: number;
  /**
   * Weekly window (UTC, `ddd:hh24:mi-ddd:hh24:mi`, at least 60 minutes) for engine
   * patches. Nodes are patched one at a time with a failover, which clients see as a
   * Redis reconnect (docs/deploy.md, failover drill). @default 'sun:04:00-sun:05:00'
   */
  maintenanceWindow?: string;
}

export class RedisCluster extends Construct implements PubSub {
  readonly publisherDriver = 'redis' as const;
  readonly securityGroup: SecurityGroup;
  readonly authToken: Secret;
  readonly replicationGroup: CfnReplicationGroup;
  /** `rediss://<configuration endpoint>:6379` (no credentials; the token comes from the secret). */
  readonly url: string;
  readonly functionPlacement: { vpc: IVpc; subnets: SubnetSelection };
  readonly functionEnvironment: Readonly<Record<string, string>>;
  readonly relayEnvironment: Readonly<Record<string, string>>;
  readonly relaySecrets: Readonly<Record<string, EcsSecret>>;
  readonly shards: number;
  readonly replicas: number;

  constructor(scope: Construct, id: string, props: RedisClusterProps) {
    super(scope, id);
    const shards = props.shards ?? 1;
    const replicas = props.replicasPerShard ?? 1;
    const problems: string[] = [];
    if (!Number.isInteger(shards) || shards < 1 || shards > 500) problems.push('shards must be an integer from 1 to 500');
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
      problems.push('replicasPerShard must be an integer from 1 to 5 (Multi-AZ failover needs a replica)');
    }
    const maintenanceWindow = props.maintenanceWindow ?? 'sun:04:00-sun:05:00';
    if (!/^(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}-(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}$/.test(maintenanceWindow)) {
      problems.push('maintenanceWindow must look like sun:04:00-sun:05:00 (UTC)');
    }
    if (problems.length) throw new Error(`RedisCluster: ${problems.join('; ')}`);
    this.shards = shards;
    this.replicas = replicas;

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Townsquare Redis: 6379 from the publishing functions and the relays only',
      allowAllOutbound: false,
    });
    this.authToken = new Secret(this, 'AuthToken', {
      description: 'Townsquare Redis AUTH token',
      // ElastiCache tokens: 16-128 printable chars without @ " / and spaces; alphanumerics avoid all of them.
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.authToken).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'An ElastiCache AUTH token is rotated with a two-step ROTATE/SET on the replication group, which generic Secrets Manager rotation cannot do; docs/deploy.md describes the manual procedure.',
    });

    const subnetGroup = new CfnSubnetGroup(this, 'SubnetGroup', {
      description: 'Townsquare Redis isolated subnets',
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
    });
    this.replicationGroup = new CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: 'Townsquare pub/sub',
      engine: 'valkey',
      engineVersion: '7.2',
      cacheParameterGroupName: 'default.valkey7.cluster.on',
      cacheNodeType: props.nodeType ?? 'cache.t4g.micro',
      numNodeGroups: shards,
      replicasPerNodeGroup: replicas,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      authToken: this.authToken.secretValue.unsafeUnwrap(),
      port: REDIS_PORT,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      autoMinorVersionUpgrade: true,
      preferredMaintenanceWindow: maintenanceWindow,
      // Pub/sub holds no data worth restoring.
      snapshotRetentionLimit: 0,
    });

    this.url = `rediss://${this.replicationGroup.attrConfigurationEndPointAddress}:${REDIS_PORT}`;
    this.functionPlacement = { vpc: props.vpc, subnets: props.subnets };
    this.functionEnvironment = {
      REDIS_URL: this.url,
      REDIS_CLUSTER: 'true',
      REDIS_AUTH_SECRET_ARN: this.authToken.secretArn,
    };
    this.relayEnvironment = { REDIS_URL: this.url, REDIS_CLUSTER: 'true' };
    this.relaySecrets = { REDIS_PASSWORD: EcsSecret.fromSecretsManager(this.authToken) };
  }

  /**
   * One metric per cache node (CloudWatch has host metrics per node only). In
   * cluster mode node ids are `<group>-<shard 0001…>-<node 001…>`; after a
   * failover the roles swap but the ids stay, so alarms take the MAX over all.
   */
  nodeMetrics(metricName: string, options: { statistic?: string; period?: Duration } = {}): Metric[] {
    const metrics: Metric[] = [];
    for (let shard = 1; shard <= this.shards; shard++) {
      for (let node = 1; node <= this.replicas + 1; node++) {
        metrics.push(
          new Metric({
            namespace: 'AWS/ElastiCache',
            metricName,
            dimensionsMap: {
              CacheClusterId: `${this.replicationGroup.ref}-${String(shard).padStart(4, '0')}-${String(node).padStart(3, '0')}`,
            },
            statistic: options.statistic ?? 'Maximum',
            period: options.period ?? Duration.minutes(5),
          }),
        );
      }
    }
    return metrics;
  }

  grantPublish(grantee: IGrantable): void {
    this.authToken.grantRead(grantee);
  }

  allowClient(securityGroup: ISecurityGroup, description: string): void {
    this.securityGroup.addIngressRule(securityGroup, Port.tcp(REDIS_PORT), description);
  }
}
