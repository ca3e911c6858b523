/** Plain objects ⇄ DynamoDB attribute maps, for the stores' plain client. */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

export type AttributeMap = Record<string, AttributeValue>;

/** Optional fields left undefined are omitted, as DynamoDB has no undefined. */
export const toAttributes = (value: Record<string, unknown>): AttributeMap =>
  marshall(value, { removeUndefinedValues: true });

export function fromAttributes<T>(item: AttributeMap): T;
export function fromAttributes<T>(item: AttributeMap | undefined): T | null;
export function fromAttributes<T>(item: AttributeMap | undefined): T | null {
  return item ? (unmarshall(item) as T) : null;
}
