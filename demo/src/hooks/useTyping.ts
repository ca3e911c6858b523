import { useCallback, useEffect, useRef, useState } from 'react';
import type { Subscription } from '@townsquare/client';
import { useSession } from '../context';

/** A typist who sent nothing for this long has stopped (their "stopped" signal may be lost: signals are ephemeral). */
const TYPING_TTL_MS = 5000;
/** While typing, say so again this often, so the others' TTL does not run out. */
const TYPING_REPEAT_MS = 2500;

/**
 * Who else is typing on a subscription's channel, from `typing` signals, and a `typing()`
 * function for the composer that sends them (at most one per TYPING_REPEAT_MS)
 * and `stopped()` for when the draft is sent or cleared.
 */
export function useTyping(sub: Subscription | null) {
  const { me } = useSession();
  const [typists, setTypists] = useState<string[]>([]);
  const expiries = useRef(new Map<string, number>());
  const lastSent = useRef(0);

  useEffect(() => {
    if (!sub) return;
    const update = () => setTypists([...expiries.current.keys()].sort());
    const offSignal = sub.on('signal', ({ event, userId, data }) => {
      if (event !== 'typing' || userId === me) return;
      const on = (data as { on?: unknown } | null)?.on !== false;
      if (on) expiries.current.set(userId, Date.now() + TYPING_TTL_MS);
      else expiries.current.delete(userId);
      update();
    });
    // A message from a typist ends their typing at once.
    const offMessage = sub.on('message', (m) => {
      const author = (m.data as { userId?: string } | null)?.userId;
      if (author && expiries.current.delete(author)) update();
    });
    const timer = setInterval(() => {
      const now = Date.now();
      let changed = false;
      for (const [userId, until] of expiries.current) if (until <= now) changed = expiries.current.delete(userId) || changed;
      if (changed) update();
    }, 500);
    return () => {
      offSignal();
      offMessage();
      clearInterval(timer);
      expiries.current.clear();
      setTypists([]);
    };
  }, [sub, me]);

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

  return { typists, typing, stopped };
}
