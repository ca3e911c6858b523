/**
 * ElastiCache (Valkey 7, Redis OSS compatible) in cluster mode, so pub/sub can
 * grow into sharded pub/sub (SPUBLISH/SSUBSCRIBE) by adding shards. TLS in
 * transit, encryption at rest, an auth token from Secrets Manager, isolated
 * subnets, and a security group that only opens 6379 to the clients it is told
 * about.
 */
import { Validations } from 'aws-cdk-lib';
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

  constructor(scope: Construct, id: string, props: RedisClusterProps) {
    super(scope, id);
    const shards = props.shards ?? 1;
    const replicas = props.replicasPerShard ?? 1;
    const problems: string[] = [];
    if (!Number.isInteger(shards) || shards < 1 || shards > 500) problems.push('shards must be an integer from 1 to 500');
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
      problems.push('replicasPerShard must be an integer from 1 to 5 (Multi-AZ failover needs a replica)');
    }
    if (problems.length) throw new Error(`RedisCluster: ${problems.join('; ')}`);

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

  grantPublish(grantee: IGrantable): void {
    this.authToken.grantRead(grantee);
  }

  allowClient(securityGroup: ISecurityGroup, description: string): void {
    this.securityGroup.addIngressRule(securityGroup, Port.tcp(REDIS_PORT), description);
  }
}
