import { listNames } from '../format';

export function TypingIndicator({ typists }: { typists: string[] }) {
  const text = typists.length === 0 ? '' : `${listNames(typists)} ${typists.length === 1 ? 'is' : 'are'} typing…`;
  return (
    // Always rendered, so screen readers announce changes in this live region.
    <div className="typing" aria-live="polite" data-testid="typing-indicator" data-typists={typists.join(',')}>
      {text && (
        <>
          <span className="typing-dots" aria-hidden="true">
            <span />
            <span />
            <span />
          </span>
          {text}
        </>
      )}
    </div>
  );
}
