import { useEffect, useId, useRef, useState } from 'react';
import type { Notification } from '@townsquare/client';
import { relativeTime } from '../format';
import { useNotifications } from '../hooks/useNotifications';
import { Icon } from './Icon';

/** Where a notification points, when its data names a room (mentions do). */
function roomOf(n: Notification): string | null {
  const roomId = (n.data as { roomId?: unknown } | undefined)?.roomId;
  return typeof roomId === 'string' ? roomId : null;
}

export function NotificationBell({ onOpenRoom }: { onOpenRoom: (roomId: string) => void }) {
  const { unread, items, error, load, markRead, markAllRead } = useNotifications();
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const wrapper = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    void load();
    const onPointer = (e: PointerEvent) => {
      if (!wrapper.current?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      setOpen(false);
      button.current?.focus();
    };
    document.addEventListener('pointerdown', onPointer);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('pointerdown', onPointer);
      document.removeEventListener('keydown', onKey);
    };
  }, [open, load]);

  const label = unread === 0 ? 'Notifications' : `Notifications, ${unread} unread`;
  return (
    <div className="bell" ref={wrapper}>
      <button
        ref={button}
        type="button"
        className="icon-button bell-button"
        aria-label={label}
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((o) => !o)}
        data-testid="bell"
      >
        <Icon name="bell" size={20} />
        {unread > 0 && (
          <span className="bell-count" data-testid="bell-count" aria-hidden="true">
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
      {open && (
        <section id={panelId} className="inbox" role="dialog" aria-label="Notifications" data-testid="inbox">
          <header className="inbox-header">
            <h2>Notifications</h2>
            <button type="button" className="link-button" onClick={() => void markAllRead()} disabled={unread === 0} data-testid="mark-all-read">
              <Icon name="checks" size={15} /> Mark all read
            </button>
          </header>
          {error && (
            <p className="inbox-empty" role="alert">
              {error}
            </p>
          )}
          {items === null && !error && <p className="inbox-empty">Loading…</p>}
          {items?.length === 0 && (
            <div className="inbox-empty">
              <Icon name="inbox" size={28} />
              <p>You're all caught up.</p>
            </div>
          )}
          {items && items.length > 0 && (
            <ul className="inbox-list">
              {items.map((n) => {
                const roomId = roomOf(n);
                return (
                  <li key={n.id} className={`inbox-item${n.read ? '' : ' inbox-item-unread'}`} data-testid="inbox-item" data-read={n.read}>
                    <span className={`inbox-type inbox-type-${n.type === 'mention' ? 'mention' : 'other'}`} aria-hidden="true">
                      <Icon name={n.type === 'mention' ? 'at' : 'bell'} size={14} />
                    </span>
                    <button
                      type="button"
                      className="inbox-item-main"
                      onClick={() => {
                        if (!n.read) void markRead(n.id);
                        if (roomId) {
                          onOpenRoom(roomId);
                          setOpen(false);
                        }
                      }}
                    >
                      <span className="inbox-title">{n.title}</span>
                      <span className="inbox-body">{n.body}</span>
                      <time className="inbox-time" dateTime={new Date(n.createdAt).toISOString()}>
                        {relativeTime(n.createdAt)}
                      </time>
                    </button>
                    {!n.read && (
                      <button type="button" className="icon-button inbox-mark" aria-label={`Mark "${n.title}" as read`} title="Mark as read" onClick={() => void markRead(n.id)} data-testid="mark-read">
                        <Icon name="check" size={15} />
                      </button>
                    )}
                  </li>
                );
              })}
            </ul>
          )}
        </section>
      )}
    </div>
  );
}
