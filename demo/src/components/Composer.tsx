import { useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { Icon } from './Icon';

interface ComposerProps {
  roomName: string;
  onSend: (text: string) => void;
  onTyping: () => void;
  onStopped: () => void;
}

/** The API's limit on a message's text. */
const MAX_TEXT = 4000;

export function Composer({ roomName, onSend, onTyping, onStopped }: ComposerProps) {
  const [text, setText] = useState('');
  const area = useRef<HTMLTextAreaElement>(null);
  const inputId = useId();
  const hintId = useId();

  function submit(e?: FormEvent) {
    e?.preventDefault();
    const trimmed = text.trim();
    if (!trimmed) return;
    onSend(trimmed);
    onStopped();
    setText('');
    area.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  }

  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor={inputId} className="visually-hidden">
        Message #{roomName}
      </label>
      <textarea
        id={inputId}
        ref={area}
        className="composer-input"
        rows={1}
        maxLength={MAX_TEXT}
        value={text}
        placeholder={`Message #${roomName}`}
        aria-describedby={hintId}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value) onTyping();
          else onStopped();
        }}
        onKeyDown={onKeyDown}
        data-testid="composer-input"
      />
      <span id={hintId} className="visually-hidden">
        Enter sends, Shift+Enter starts a new line. Type @ and a user id to mention someone.
      </span>
      <button type="submit" className="composer-send" aria-label="Send message" disabled={!text.trim()} data-testid="composer-send">
        <Icon name="send" size={18} />
      </button>
    </form>
  );
}
