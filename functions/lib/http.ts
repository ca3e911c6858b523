/**
 * The HTTP edge of every handler: caller identity from the verified JWT
 * claims, body/query parsing with zod, and error → status mapping with the
 * documented `{"error":{"code","message"}}` shape.
 */
import type {
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import * as z from '../../protocol/zod.js';
import { READABLE_ERRORS } from '../../protocol/zod.js';
import { ErrorCode, USER_ID_PATTERN } from '../../protocol/index.js';
import { DomainError } from '../domain/errors.js';
import { logger } from './logger.js';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;

/** The functions' timeout in the CDK app (infra/lib/api-functions.ts); WRITE_BUDGET_MS must fit well inside it. */
export const FUNCTION_TIMEOUT_MS = 10_000;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** Largest request body accepted, in bytes (API Gateway allows 10 MB; chat needs far less). */
export const MAX_BODY_BYTES = 64 * 1024;

export interface Caller {
  userId: string;
  scopes: string[];
}

const statusByCode: Record<string, number> = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.InvalidJson]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.LimitExceeded]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.Unavailable]: 503,
};

export const json = (statusCode: number, body: unknown): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

export const errorResponse = (code: string, message: string): HttpResult =>
  json(statusByCode[code] ?? 500, { error: { code, message } });

/** The caller, from the claims the JWT authorizer verified. Never from the body. */
export function callerOf(event: HttpEvent): Caller {
  const claims = event.requestContext.authorizer?.jwt?.claims ?? {};
  const sub = claims.sub;
  if (typeof sub !== 'string' || !USER_ID_PATTERN.test(sub)) {
    throw new DomainError(ErrorCode.Unauthorized, 'The token has no usable `sub` claim');
  }
  const scopes = event.requestContext.authorizer?.jwt?.scopes ?? scopesFromClaim(claims.scope);
  return { userId: sub, scopes };
}

function scopesFromClaim(scope: unknown): string[] {
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}

/**
 * Parses the JSON body against `schema`. Oversize → 413; bytes that are not
 * UTF-8, text that is not JSON, or a string escape that is not Unicode (an
 * unpaired surrogate such as `"\ud800"`) → 400 invalid_json; wrong shape → 400.
 */
export function parseBody<T extends z.ZodMiniType>(event: HttpEvent, schema: T, maxBytes = MAX_BODY_BYTES): z.infer<T> {
  const raw = bodyText(event, maxBytes);
  let value: unknown;
  try {
    // The reviver costs a call per value, so it runs only when a surrogate could be there.
    value = MAYBE_SURROGATE.test(raw) ? JSON.parse(raw, refuseLoneSurrogates) : JSON.parse(raw);
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw new DomainError(ErrorCode.InvalidJson, 'Request body is not valid JSON');
  }
  return validate(schema, value, 'body');
}

/** Refuses rather than replaces: `fatal` makes a malformed byte sequence throw instead of becoming U+FFFD. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body as text. API Gateway passes a body it cannot pass as text base64
 * encoded (`isBase64Encoded`); its bytes must be UTF-8, as JSON requires.
 */
function bodyText(event: HttpEvent, maxBytes: number): string {
  if (event.body === undefined) return '';
  const tooLarge = () => new DomainError(ErrorCode.PayloadTooLarge, `Request body exceeds ${maxBytes} bytes`);
  if (!event.isBase64Encoded) {
    if (Buffer.byteLength(event.body, 'utf8') > maxBytes) throw tooLarge();
    return event.body;
  }
  // 4 base64 characters per 3 bytes: refuse an oversize body before decoding it.
  if (event.body.length > Math.ceil(maxBytes / 3) * 4 + 4) throw tooLarge();
  const bytes = Buffer.from(event.body, 'base64');
  if (bytes.length > maxBytes) throw tooLarge();
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new DomainError(ErrorCode.InvalidJson, 'Request body is not valid UTF-8; send JSON encoded as UTF-8');
  }
}

/** With the `u` flag a surrogate class matches only unpaired surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** A `\uD800`–`\uDFFF` escape, or a raw unpaired surrogate. */
const MAYBE_SURROGATE = /\\u[dD][89a-fA-F]|[\uD800-\uDFFF]/u;

/** A JSON.parse reviver: strings (values and keys) must be Unicode text, which storage can keep as is. */
function refuseLoneSurrogates(key: string, value: unknown): unknown {
  if ((typeof value === 'string' && LONE_SURROGATE.test(value)) || LONE_SURROGATE.test(key)) {
    throw new DomainError(ErrorCode.InvalidJson, 'Request body has a \\u escape of an unpaired surrogate (D800–DFFF), which is not valid Unicode');
  }
  return value;
}

/** Validates `value` (path parameters, query string) against `schema`. */
export function validate<T extends z.ZodMiniType>(schema: T, value: unknown, where: string): z.infer<T> {
  const parsed = schema.safeParse(value, READABLE_ERRORS);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`).join('; ');
  throw new DomainError(ErrorCode.BadRequest, details);
}

/** AWS SDK errors that mean the service was slow or shed load: the request may succeed if retried. */
const UNAVAILABLE_ERROR_NAMES = new Set([
  'TimeoutError', // the client's request or connection timeout (shared/dynamo-client.ts)
  'RequestTimeout',
  'RequestTimeoutException',
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
]);
/** Network failures Node reports by `code`. */
const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** Whether `err` is a timeout, throttle or network failure of a dependency (after the SDK's own retries). */
export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return UNAVAILABLE_ERROR_NAMES.has(err.name) || (typeof code === 'string' && NETWORK_ERROR_CODES.has(code));
}

/**
 * Wraps a handler body: runs it, and turns every thrown error into the
 * documented error response. Timeouts, throttling and network failures of
 * DynamoDB are 503 `unavailable` (retry); other unexpected errors are logged
 * and answered 500 without internals.
 */
export function httpHandler(
  run: (event: HttpEvent, caller: Caller, deadline: number | undefined) => Promise<HttpResult>,
): (event: HttpEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<HttpResult> {
  return async (event, context) => {
    // When the answer must be out, as Lambda says. Hosts without a timeout (the local stack) have none.
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadline = remaining === undefined ? undefined : Date.now() + remaining;
    try {
      return await run(event, callerOf(event), deadline);
    } catch (err) {
      if (err instanceof DomainError) return errorResponse(err.code, err.message);
      if (isUnavailableError(err)) {
        // ERROR, like a 500: the handled-5xx alarm (infra/lib/alarms.ts) counts these too.
        logger.error('dependency unavailable; answered 503', { error: err as Error, routeKey: event.routeKey, requestId: event.requestContext.requestId });
        return errorResponse(ErrorCode.Unavailable, 'The database did not answer in time or is throttling; retry (with the same clientMessageId when there is one)');
      }
      logger.error('unhandled error', { error: err as Error, routeKey: event.routeKey, requestId: event.requestContext.requestId });
      return errorResponse(ErrorCode.Internal, 'Internal error; it has been logged');
    }
  };
}
