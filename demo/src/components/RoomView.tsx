import { useEffect, useMemo, useRef, useState } from 'react';
import type { ChatMessage, RoomSummary } from '@townsquare/client';
import { useChannel } from '@townsquare/client/react';
import { roomChannel } from '../../../protocol/channels.js';
import { useSession } from '../context';
import { useTypingSignals, useTypists } from '../hooks/useTyping';
import { Composer } from './Composer';
import { MessageList, type PendingMessage } from './MessageList';
import { TypingIndicator } from './TypingIndicator';

/** The event the HTTP API appends for a chat message (tombstones and other events are not shown). */
const CHAT_EVENT = 'message.created';

/** A room's conversation: its messages (history, then live, exactly once, in order), who is typing, and the composer. */
export function RoomView({ room }: { room: RoomSummary }) {
  const { client } = useSession();
  const [lost, setLost] = useState(0);
  const { typists, onSignal, onMessage } = useTypists();
  // Handlers given to useChannel are attached together with the subscription: no gap or signal is missed.
  const { messages, state, subscription } = useChannel(roomChannel(room.roomId), {
    onGap: ({ fromSeq, toSeq }) => setLost((n) => n + (toSeq - fromSeq + 1)),
    onSignal,
    onMessage,
  });
  const { typing, stopped } = useTypingSignals(subscription);
  const [pending, setPending] = useState<Array<PendingMessage & { messageId?: string }>>([]);
  const nextLocalId = useRef(0);

  const chat = useMemo(() => messages.filter((m) => m.event === CHAT_EVENT).map((m) => m.data as ChatMessage), [messages]);
  const delivered = useMemo(() => new Set(chat.map((m) => m.id)), [chat]);

  // A sent message leaves the pending list once the channel delivered it, so it never shows twice.
  const visiblePending = pending.filter((p) => !p.messageId || !delivered.has(p.messageId));
  useEffect(() => {
    if (visiblePending.length !== pending.length) setPending(visiblePending);
  });

  function send(text: string, localId = `local-${++nextLocalId.current}`) {
    setPending((list) => [...list.filter((p) => p.localId !== localId), { localId, text, status: 'sending' }]);
    client.send(room.roomId, text).then(
      (message) => setPending((list) => list.map((p) => (p.localId === localId ? { ...p, messageId: message.id } : p))),
      (err: unknown) =>
        setPending((list) => list.map((p) => (p.localId === localId ? { ...p, status: 'failed', error: err instanceof Error ? err.message : String(err) } : p))),
    );
  }

  return (
    <div className="room">
      <MessageList
        roomName={room.name}
        messages={chat}
        pending={visiblePending}
        loading={state !== 'subscribed'}
        lost={lost}
        onRetry={(localId) => {
          const p = pending.find((x) => x.localId === localId);
          if (p) send(p.text, localId);
        }}
        onDiscard={(localId) => setPending((list) => list.filter((p) => p.localId !== localId))}
      />
      {state === 'failed' && (
        <p className="notice notice-error" role="alert" data-testid="room-unavailable">
          This room is not available to you any more (you may have been removed). Messages you send will be refused.
        </p>
      )}
      <div className="room-footer">
        <Composer roomName={room.name} onSend={send} onTyping={typing} onStopped={stopped} />
        <TypingIndicator typists={typists} />
      </div>
    </div>
  );
}
