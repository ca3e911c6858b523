/**
 * Helpers for naming cdk-nag findings precisely, so an acknowledgement covers
 * one resource pattern and nothing else.
 */
import { Stack, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The logical id CloudFormation will know a construct's default resource by. */
export function logicalIdOf(construct: IConstruct): string {
  const child = construct.node.defaultChild;
  if (!child) throw new Error(`${construct.node.path} has no default CloudFormation resource`);
  return Stack.of(construct).getLogicalId(child as CfnElement);
}

/** `AwsSolutions-IAM5[Resource::<Logical.Arn>suffix]`, as cdk-nag names a wildcard resource finding. */
export function wildcardResourceFinding(construct: IConstruct, suffix: string, attribute = 'Arn'): string {
  return `AwsSolutions-IAM5[Resource::<${logicalIdOf(construct)}.${attribute}>${suffix}]`;
}
