/**
 * The HTTP API, typed: one `request` that adds the token, turns error bodies
 * into TownsquareError and retries once with a fresh token after a 401.
 */
import { clampRetryHint, parseRetryAfter } from './backoff.js';
import { TownsquareError } from './errors.js';
import type { TokenStore } from './tokens.js';
import type {
  ChatMessage,
  FetchLike,
  FetchResponseLike,
  Membership,
  Notification,
  NotificationsPage,
  Role,
  Room,
  RoomsPage,
} from './types.js';
import type { HistoryEntry } from './sequencer.js';

/** A page of `GET /channels/{channel}/messages` (see docs/http-api.md). */
export interface HistoryPage {
  messages: HistoryEntry[];
  nextAfterSeq: number | null;
  retryAfterMs?: number;
  truncated?: true;
  firstSeq?: number;
}

export const HISTORY_PAGE_LIMIT = 200;

export class HttpApi {
  private readonly base: string;

  constructor(
    apiUrl: string,
    private readonly fetchImpl: FetchLike,
    private readonly tokens: TokenStore,
    private readonly timeoutMs: number,
  ) {
    this.base = apiUrl.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let token = await this.tokens.get();
    let response = await this.call(method, path, token, body);
    if (response.status === 401) {
      this.tokens.invalidate(token);
      token = await this.tokens.fresh();
      response = await this.call(method, path, token, body);
    }
    const text = await response.text().catch(() => '');
    let json: unknown = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        throw new TownsquareError('invalid_response', `${method} ${path}: the response is not JSON (HTTP ${response.status})`, response.status);
      }
    }
    if (response.status >= 200 && response.status < 300) return json as T;
    const error = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof error?.code === 'string' ? error.code : response.status === 401 ? 'unauthorized' : 'http_error';
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`;
    throw new TownsquareError(code, `${method} ${path}: ${message}`, response.status, retryHint(response, json));
  }

  private async call(method: string, path: string, token: string, body: unknown) {
    const Abort = (globalThis as { AbortController?: new () => { signal: unknown; abort(): void } }).AbortController;
    const controller = Abort ? new Abort() : null;
    const timer = controller ? setTimeout(() => controller.abort(), this.timeoutMs) : null;
    try {
      return await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        ...(controller && { signal: controller.signal }),
      });
    } catch (error) {
      throw new TownsquareError('network', `${method} ${path}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  // ── Routes ──
  history(channel: string, afterSeq: number, limit = HISTORY_PAGE_LIMIT): Promise<HistoryPage> {
    return this.request<HistoryPage>('GET', `/channels/${encodeURIComponent(channel)}/messages?afterSeq=${afterSeq}&limit=${limit}`).then((page) => checkHistoryPage(page, afterSeq, limit));
  }
  sendMessage(roomId: string, text: string, clientMessageId: string): Promise<ChatMessage> {
    return this.request('POST', `/rooms/${encodeURIComponent(roomId)}/messages`, { text, clientMessageId });
  }
  listRooms(options: { limit?: number; cursor?: string } = {}): Promise<RoomsPage> {
    return this.request('GET', `/rooms${query(options)}`);
  }
  createRoom(name: string): Promise<Room> {
    return this.request('POST', '/rooms', { name });
  }
  addMember(roomId: string, userId: string, role?: Exclude<Role, 'owner'>): Promise<Membership> {
    return this.request('POST', `/rooms/${encodeURIComponent(roomId)}/members`, { userId, ...(role && { role }) });
  }
  removeMember(roomId: string, userId: string): Promise<void> {
    return this.request<null>('DELETE', `/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}`).then(() => undefined);
  }
  listNotifications(options: { unread?: boolean; limit?: number; cursor?: string } = {}): Promise<NotificationsPage> {
    return this.request('GET', `/me/notifications${query(options)}`);
  }
  unreadCount(): Promise<number> {
    return this.request<{ unread: number }>('GET', '/me/notifications/unread-count').then((r) => r.unread);
  }
  markRead(id: string): Promise<{ unread: number }> {
    return this.request('POST', `/me/notifications/${encodeURIComponent(id)}/read`);
  }
  markAllRead(): Promise<{ unread: number }> {
    return this.request('POST', '/me/notifications/read-all');
  }
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * When to try again, from a 429/503: the `Retry-After` header (what the API
 * sends on 429), else a `retryAfterMs` in the body; clamped to 0…60 s.
 */
function retryHint(response: FetchResponseLike, json: unknown): number | undefined {
  const header = typeof response.headers?.get === 'function' ? response.headers.get('retry-after') : null;
  return parseRetryAfter(header) ?? clampRetryHint((json as { retryAfterMs?: unknown } | null)?.retryAfterMs);
}

/**
 * History pages steer recovery, so they are checked before any of it is
 * trusted: the documented shape, no more entries than asked for, every `seq`
 * after `afterSeq` and ascending, and a `retryAfterMs` clamped to 0…60 s.
 */
export function checkHistoryPage(page: unknown, afterSeq: number, limit: number): HistoryPage {
  const p = page as Partial<HistoryPage> | null;
  const int = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  let previous = afterSeq;
  const ok =
    p !== null &&
    typeof p === 'object' &&
    Array.isArray(p.messages) &&
    p.messages.length <= limit &&
    (p.nextAfterSeq === null || int(p.nextAfterSeq)) &&
    (p.retryAfterMs === undefined || int(p.retryAfterMs)) &&
    (p.firstSeq === undefined || int(p.firstSeq)) &&
    p.messages.every((m) => m !== null && typeof m === 'object' && int(m.seq) && m.seq > previous && (previous = m.seq) > 0 && typeof m.id === 'string' && typeof m.event === 'string' && int(m.ts));
  if (!ok) throw new TownsquareError('invalid_response', 'the history page does not have the documented shape');
  return p.retryAfterMs === undefined ? (p as HistoryPage) : { ...(p as HistoryPage), retryAfterMs: clampRetryHint(p.retryAfterMs)! };
}
