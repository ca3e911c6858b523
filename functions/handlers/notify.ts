/**
 * POST /notifications {userIds, type, title, body, data?, idempotencyKey?}:
 * server to server. The gateway admits only tokens with the notify scope (a
 * JWT authorizer with authorization scopes in AWS, the same rule in the local
 * stand-in); the check here is the same rule once more, should a deployment
 * route around it. 201 when every recipient is notified, 200 for a retry that
 * notified nobody new, 207 when some were not or may not have been (each
 * result says why), even if none was stored.
 */
import { MAX_NOTIFY_BODY_BYTES, NOTIFY_SCOPE, NotifyBody } from '../../protocol/index.js';
import { forbidden } from '../domain/errors.js';
import { notify } from '../domain/notifications.js';
import { logger } from '../lib/logger.js';
import { getRawPublisher } from '../lib/publisher.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody } from '../lib/http.js';

/** The scope as the issuer spells it (Cognito: `{resource server}/notify`); the deployment sets it. */
const requiredScope = () => process.env.NOTIFY_SCOPE || NOTIFY_SCOPE;

const logPublishFailure = (error: unknown, entry: { channel: string; seq: number }) =>
  logger.error('publish failed after the notification was stored; the recipient backfills', { error: error as Error, channel: entry.channel, seq: entry.seq });

export const handler = httpHandler(async (event, caller, deadline) => {
  if (!caller.scopes.includes(requiredScope())) throw forbidden(`POST /notifications needs a token with the ${requiredScope()} scope (server to server)`);
  const body = parseBody(event, NotifyBody, MAX_NOTIFY_BODY_BYTES);
  const outcome = await notify(
    { ...getStores(), publisher: getRawPublisher(), onPublishError: logPublishFailure, deadline },
    { ...body, namespace: `api:${caller.userId}` },
  );
  const missed = outcome.failed + outcome.unknown;
  if (missed > 0) {
    logger.warn('notification partly stored', { stored: outcome.stored, failed: outcome.failed, unknown: outcome.unknown, reason: outcome.results.find((r) => r.reason)?.reason });
  }
  return json(missed > 0 ? 207 : outcome.stored > 0 ? 201 : 200, outcome);
});
