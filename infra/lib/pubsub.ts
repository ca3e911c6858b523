/**
 * What the rest of the stack needs to know about "the town square" Redis,
 * whichever way it is provided (ElastiCache in the VPC, or Upstash over TLS).
 */
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { Secret as EcsSecret } from 'aws-cdk-lib/aws-ecs';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { PublisherDriver } from './bundling.js';

export interface PubSub {
  /** The client publishing functions are built with (see `publisherDefine`). */
  readonly publisherDriver: PublisherDriver;
  /**
   * Where publishing functions must run to reach Redis; undefined when Redis
   * is reachable from outside a VPC (Upstash REST).
   */
  readonly functionPlacement?: { vpc: IVpc; subnets: SubnetSelection };
  /** Non-secret environment for publishing functions (secrets are fetched at cold start by ARN). */
  readonly functionEnvironment: Readonly<Record<string, string>>;
  /** Non-secret environment for relays. */
  readonly relayEnvironment: Readonly<Record<string, string>>;
  /** Secrets ECS injects into the relay container at start (never visible in the task definition). */
  readonly relaySecrets: Readonly<Record<string, EcsSecret>>;
  /** Lets a publishing function read the credentials named in its environment. */
  grantPublish(grantee: IGrantable): void;
  /** Opens the Redis port to a client security group (no-op when Redis is outside the VPC). */
  allowClient(securityGroup: ISecurityGroup, description: string): void;
}
