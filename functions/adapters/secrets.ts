/**
 * Reads a secret once per container. The SDK ships with the Lambda runtime
 * (it is external to the bundle); in ElastiCache mode the request goes through
 * the VPC's Secrets Manager endpoint.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

const cache = new Map<string, Promise<string>>();

export function readSecret(secretId: string): Promise<string> {
  let value = cache.get(secretId);
  if (!value) {
    value = new SecretsManagerClient({})
      .send(new GetSecretValueCommand({ SecretId: secretId }))
      .then((out) => {
        if (!out.SecretString) throw new Error(`Secret ${secretId} has no string value`);
        return out.SecretString;
      });
    // A failed read is retried by the next invocation rather than cached.
    value.catch(() => cache.delete(secretId));
    cache.set(secretId, value);
  }
  return value;
}
