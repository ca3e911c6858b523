/**
 * The bucket of document snapshots too large for a DynamoDB item
 * (functions/domain/document-compaction.ts; docs/documents.md): private,
 * encrypted, TLS only, its access logged to the log bucket. Objects live
 * under `snapshots/{docId}/{seq}`; compaction deletes the ones a newer
 * snapshot replaced, and the lifecycle rule cleans up incomplete uploads.
 * Grants are per route (functions/routes.ts `s3`), on that prefix only.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, CfnBucket, ObjectOwnership, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { wildcardResourceFinding } from './nag.js';
import type { SnapshotAction } from '../../functions/routes.js';

export interface DocumentSnapshotsProps {
  /** Where the bucket's server access logs go. */
  logBucket: IBucket;
  /** Delete the bucket and its objects with the stack (dev stacks). @default false */
  destroyOnRemoval?: boolean;
}

/** The key prefix every snapshot object is under (snapshotPrefix in document-compaction.ts). */
export const SNAPSHOT_KEY_PREFIX = 'snapshots/';

export class DocumentSnapshots extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: DocumentSnapshotsProps) {
    super(scope, id);
    const destroy = props.destroyOnRemoval ?? false;
    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      // Objects are written once under a key of their own and never overwritten: versions would only keep deleted snapshots.
      versioned: false,
      lifecycleRules: [{ id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: destroy,
    });
    // Server access logs to the log bucket, allowed by a bucket policy (the log bucket enforces bucket-owner
    // ownership, so no ACLs): set on the CloudFormation resource, since CDK would reach for the log-delivery ACL.
    const prefix = 'document-snapshots/';
    (this.bucket.node.defaultChild as CfnBucket).loggingConfiguration = { destinationBucketName: props.logBucket.bucketName, logFilePrefix: prefix };
    props.logBucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DocumentSnapshotsAccessLogs',
        principals: [new ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [props.logBucket.arnForObjects(`${prefix}*`)],
        conditions: { ArnLike: { 'aws:SourceArn': this.bucket.bucketArn }, StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
  }

  /** Exactly `actions`, on the snapshot prefix only. */
  grant(grantee: IGrantable & IConstruct, actions: readonly SnapshotAction[]): void {
    const objectActions = actions.filter((a) => a !== 'ListBucket').map((a) => `s3:${a}`);
    if (objectActions.length) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({ actions: objectActions, resources: [this.bucket.arnForObjects(`${SNAPSHOT_KEY_PREFIX}*`)] }),
      );
      Validations.of(grantee).acknowledge({
        id: wildcardResourceFinding(this.bucket, `/${SNAPSHOT_KEY_PREFIX}*`),
        reason: 'Snapshot objects are keyed per (document, seq) as compaction writes them: the grant is the snapshots/ prefix of this one bucket, with only the actions the route makes.',
      });
    }
    // ListBucket also for every reader: without it S3 answers a missing key with 403 AccessDenied instead of
    // 404 NoSuchKey, and a snapshot replaced by a newer compaction (or lost) must read as missing, not as an error.
    // Unconditioned: a GetObject request carries no s3:prefix, and this bucket holds nothing but snapshots.
    if (actions.includes('ListBucket') || actions.includes('GetObject')) {
      grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    }
  }
}
