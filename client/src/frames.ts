/**
 * Decoding server frames. Frames are validated with the protocol's own zod
 * schemas; a frame whose `type` the SDK does not know is ignored (forward
 * compatibility), a known one that is not valid is reported, never thrown.
 */
import { ServerFrame } from '../../protocol/frames.js';

export type { ServerFrame };
export type Decoded = { ok: true; frame: ServerFrame } | { ok: false; ignored: true; type: string } | { ok: false; ignored: false; message: string; type?: string };

/** Longest frame the SDK will parse (the relay's frames are far smaller; a durable message is ≤ 1 MiB). */
const MAX_FRAME_CHARS = 2 * 1024 * 1024;

/** Types the SDK acts on; anything else is ignored. */
const HANDLED_TYPES: ReadonlySet<string> = new Set([
  'welcome',
  'refreshed',
  'subscribed',
  'unsubscribed',
  'message',
  'signal',
  'presence',
  'join',
  'leave',
  'resync',
  'pong',
  'error',
]);

export function decodeFrame(data: unknown): Decoded {
  if (typeof data !== 'string') return { ok: false, ignored: false, message: 'binary frame from the server' };
  if (data.length > MAX_FRAME_CHARS) return { ok: false, ignored: false, message: `frame over ${MAX_FRAME_CHARS} characters` };
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, ignored: false, message: 'frame is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, ignored: false, message: 'frame is not a JSON object' };
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') return { ok: false, ignored: false, message: 'frame has no string `type`' };
  if (!HANDLED_TYPES.has(type)) return { ok: false, ignored: true, type };
  const parsed = ServerFrame.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(frame)';
    return { ok: false, ignored: false, type, message: `invalid \`${type}\` frame at ${where}` };
  }
  return { ok: true, frame: parsed.data };
}
