import { Fragment, useEffect, useLayoutEffect, useRef, type ReactNode } from 'react';
import type { ChatMessage } from '@townsquare/client';
import { clockTime, dayLabel, displayName } from '../format';
import { useSession } from '../context';
import { Avatar } from './Avatar';
import { Icon } from './Icon';

export interface PendingMessage {
  localId: string;
  text: string;
  status: 'sending' | 'failed';
  error?: string;
}

interface MessageListProps {
  roomName: string;
  messages: ChatMessage[];
  pending: PendingMessage[];
  loading: boolean;
  /** Messages history no longer holds (reported by the SDK instead of silently skipped). */
  lost: number;
  onRetry: (localId: string) => void;
  onDiscard: (localId: string) => void;
}

/** Consecutive messages of one author within this long share one header. */
const GROUP_MS = 5 * 60_000;
const MENTION = /(@[A-Za-z0-9_|.:+-]+)/g;

function withMentions(text: string, me: string): ReactNode[] {
  return text.split(MENTION).map((part, i) =>
    i % 2 === 1 ? (
      <span key={i} className={`mention${part.slice(1) === me ? ' mention-me' : ''}`}>
        {part}
      </span>
    ) : (
      part
    ),
  );
}

export function MessageList({ roomName, messages, pending, loading, lost, onRetry, onDiscard }: MessageListProps) {
  const { me } = useSession();
  const scroller = useRef<HTMLDivElement>(null);
  const stuckToBottom = useRef(true);

  // Follow new messages only when the reader is already at the bottom (not while they scroll back).
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stuckToBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages.length, pending.length]);

  // Stay at the bottom when the view changes size (a phone rotating, the composer growing).
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => {
      if (stuckToBottom.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  return (
    <div
      ref={scroller}
      className="messages"
      onScroll={(e) => {
        const el = e.currentTarget;
        stuckToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      }}
    >
      <div className="room-intro">
        <span className="room-intro-icon" aria-hidden="true">
          <Icon name="hash" size={26} />
        </span>
        <h2>Welcome to #{roomName}</h2>
        <p className="muted">This is the very beginning of the room. Everything said here stays in its history.</p>
      </div>
      {lost > 0 && (
        <p className="notice" role="note">
          {lost} older message{lost === 1 ? ' is' : 's are'} no longer in history.
        </p>
      )}
      {loading && messages.length === 0 && <p className="notice">Loading messages…</p>}
      <ol className="message-list" aria-label={`Messages in #${roomName}`} data-testid="message-list">
        {messages.map((m, i) => {
          const previous = messages[i - 1];
          const at = Date.parse(m.createdAt);
          const newDay = !previous || dayLabel(previous.createdAt) !== dayLabel(m.createdAt);
          const grouped = !newDay && previous?.userId === m.userId && at - Date.parse(previous.createdAt) < GROUP_MS;
          return (
            <Fragment key={m.id}>
              {newDay && (
                <li className="day-divider" aria-hidden="true">
                  <span>{dayLabel(m.createdAt)}</span>
                </li>
              )}
              <li className={`message${grouped ? ' message-grouped' : ''}`} data-testid="message" data-seq={m.seq} data-author={m.userId}>
                {grouped ? (
                  <time className="message-hover-time" dateTime={m.createdAt}>
                    {clockTime(m.createdAt)}
                  </time>
                ) : (
                  <Avatar userId={m.userId} decorative />
                )}
                <div className="message-content">
                  {grouped ? (
                    <span className="visually-hidden">{displayName(m.userId)}: </span>
                  ) : (
                    <div className="message-meta">
                      <span className="message-author">{displayName(m.userId)}</span>
                      <time dateTime={m.createdAt}>{clockTime(m.createdAt)}</time>
                    </div>
                  )}
                  <p className="message-text" data-testid="message-text">
                    {withMentions(m.text, me)}
                  </p>
                </div>
              </li>
            </Fragment>
          );
        })}
        {pending.map((p) => (
          <li key={p.localId} className={`message message-pending${p.status === 'failed' ? ' message-failed' : ''}`} data-testid="message-pending">
            <Avatar userId={me} decorative />
            <div className="message-content">
              <div className="message-meta">
                <span className="message-author">{displayName(me)}</span>
                <span>{p.status === 'sending' ? 'Sending…' : 'Not sent'}</span>
              </div>
              <p className="message-text">{withMentions(p.text, me)}</p>
              {p.status === 'failed' && (
                <p className="message-error" role="alert">
                  {p.error ?? 'The message was not sent.'}{' '}
                  <button type="button" className="link-button" onClick={() => onRetry(p.localId)}>
                    Retry
                  </button>{' '}
                  <button type="button" className="link-button" onClick={() => onDiscard(p.localId)}>
                    Discard
                  </button>
                </p>
              )}
            </div>
          </li>
        ))}
      </ol>
    </div>
  );
}
