/**
 * Upstash as the town square: an existing Secrets Manager secret (created by
 * the deployer, see docs/deploy.md) holds `{restUrl, restToken, redisUrl}`.
 *
 * Functions publish over HTTPS/REST from outside any VPC. They receive only the
 * secret's ARN and read it at cold start, so the REST token never appears in
 * the function configuration. Relays subscribe over TLS with ioredis; ECS
 * injects `redisUrl` (which embeds the password) as a container secret.
 */
import { Arn, ArnFormat } from 'aws-cdk-lib';
import type { ISecurityGroup } from 'aws-cdk-lib/aws-ec2';
import { Secret as EcsSecret } from 'aws-cdk-lib/aws-ecs';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { PubSub } from './pubsub.js';

export interface UpstashRedisProps {
  /** The secret's complete ARN (with the 6-character suffix Secrets Manager appends). */
  secretArn: string;
}

export class UpstashRedis extends Construct implements PubSub {
  readonly publisherDriver = 'upstash' as const;
  readonly secret: ISecret;
  readonly functionPlacement = undefined;
  readonly functionEnvironment: Readonly<Record<string, string>>;
  readonly relayEnvironment: Readonly<Record<string, string>> = {};
  readonly relaySecrets: Readonly<Record<string, EcsSecret>>;

  constructor(scope: Construct, id: string, props: UpstashRedisProps) {
    super(scope, id);
    const arn = props.secretArn;
    const name = arn.startsWith('arn:') ? (Arn.split(arn, ArnFormat.COLON_RESOURCE_NAME).resourceName ?? '') : '';
    // ECS reads the `redisUrl` JSON key only through the complete ARN; a name or a partial
    // ARN (no "-xxxxxx" suffix) makes the task fail at start (config.ts rejects them up front).
    if (!/-[A-Za-z0-9]{6}$/.test(name)) {
      throw new Error(`UpstashRedis: secretArn must be the secret's complete ARN (with its 6-character suffix), got ${arn}`);
    }
    this.secret = Secret.fromSecretCompleteArn(this, 'Secret', arn);
    this.functionEnvironment = { UPSTASH_SECRET_ARN: this.secret.secretArn };
    this.relaySecrets = { REDIS_URL: EcsSecret.fromSecretsManager(this.secret, 'redisUrl') };
  }

  grantPublish(grantee: IGrantable): void {
    this.secret.grantRead(grantee);
  }

  allowClient(_securityGroup: ISecurityGroup, _description: string): void {
    // Upstash is reached over the internet with TLS and a token; there is no port to open.
  }
}
