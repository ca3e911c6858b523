/**
 * One bucket for infrastructure logs (ALB access logs, VPC flow logs).
 * SSE-S3 rather than KMS because ALB log delivery does not support KMS keys.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface LogBucketProps {
  /** Delete the bucket and its objects with the stack (dev stacks). @default false */
  destroyOnRemoval?: boolean;
  /** @default 90 days */
  retention?: Duration;
}

export class LogBucket extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: LogBucketProps = {}) {
    super(scope, id);
    const destroy = props.destroyOnRemoval ?? false;
    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: false,
      lifecycleRules: [{ expiration: props.retention ?? Duration.days(90) }],
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: destroy,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the log bucket itself; logging its access to another bucket would recurse without adding audit value.',
    });
  }
}
