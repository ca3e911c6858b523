import { useCallback, useEffect, useRef, useState } from 'react';
import type { Message, SignalEvent, Subscription } from '@townsquare/client';
import { useSession } from '../context';

/** A typist who sent nothing for this long has stopped (their "stopped" signal may be lost: signals are ephemeral). */
const TYPING_TTL_MS = 5000;
/** While typing, say so again this often, so the others' TTL does not run out. */
const TYPING_REPEAT_MS = 2500;

/**
 * Who else is typing on a channel, from `typing` signals. Give `onSignal` and
 * `onMessage` to useChannel, which attaches them together with the
 * subscription, so no signal is missed. (One room per mount: RoomView is keyed by room.)
 */
export function useTypists() {
  const { me } = useSession();
  const [typists, setTypists] = useState<string[]>([]);
  const expiries = useRef(new Map<string, number>());
  const update = useCallback(() => setTypists([...expiries.current.keys()].sort()), []);

  const onSignal = useCallback(
    ({ event, userId, data }: SignalEvent) => {
      if (event !== 'typing' || userId === me) return;
      const on = (data as { on?: unknown } | null)?.on !== false;
      if (on) expiries.current.set(userId, Date.now() + TYPING_TTL_MS);
      else expiries.current.delete(userId);
      update();
    },
    [me, update],
  );

  // A message from a typist ends their typing at once.
  const onMessage = useCallback(
    (m: Message) => {
      const author = (m.data as { userId?: string } | null)?.userId;
      if (author && expiries.current.delete(author)) update();
    },
    [update],
  );

  useEffect(() => {
    const timer = setInterval(() => {
      const now = Date.now();
      let changed = false;
      for (const [userId, until] of expiries.current) if (until <= now) changed = expiries.current.delete(userId) || changed;
      if (changed) update();
    }, 500);
    return () => clearInterval(timer);
  }, [update]);

  return { typists, onSignal, onMessage };
}

/**
 * `typing()` for the composer, sending at most one `typing` signal per
 * TYPING_REPEAT_MS on the subscription, and `stopped()` for when the draft is
 * sent or cleared.
 */
export function useTypingSignals(sub: Subscription | null) {
  const lastSent = useRef(0);

  const typing = useCallback(() => {
    const now = Date.now();
    if (now - lastSent.current < TYPING_REPEAT_MS) return;
    lastSent.current = now;
    sub?.signal('typing', { on: true });
  }, [sub]);

  const stopped = useCallback(() => {
    if (lastSent.current === 0) return;
    lastSent.current = 0;
    sub?.signal('typing', { on: false });
  }, [sub]);

  return { typing, stopped };
}
