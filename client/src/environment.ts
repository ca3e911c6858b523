/**
 * Platform signals that a socket may have died while the app slept: the page
 * becoming visible or the network coming back (browsers), the app returning
 * to the foreground (React Native's AppState). Each triggers an immediate
 * liveness check instead of waiting out the heartbeat.
 */

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** Listens to `visibilitychange` and `online` where they exist; returns the function that stops. */
export function watchBrowser(check: () => void): () => void {
  const g = globalThis as { document?: EventTargetLike & { visibilityState?: string }; addEventListener?: EventTargetLike['addEventListener']; removeEventListener?: EventTargetLike['removeEventListener'] };
  const stops: Array<() => void> = [];
  const doc = g.document;
  if (doc && typeof doc.addEventListener === 'function') {
    const onVisible = () => {
      if (doc.visibilityState === 'visible') check();
    };
    doc.addEventListener('visibilitychange', onVisible);
    stops.push(() => doc.removeEventListener('visibilitychange', onVisible));
  }
  if (doc && typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function') {
    const add = g.addEventListener.bind(g);
    const remove = g.removeEventListener.bind(g);
    add('online', check);
    stops.push(() => remove('online', check));
  }
  return () => stops.forEach((stop) => stop());
}

/** React Native's `AppState` (pass it in: the SDK does not import react-native). */
export interface AppStateLike {
  addEventListener(type: 'change', listener: (state: string) => void): { remove(): void };
}

export function watchAppState(appState: AppStateLike, check: () => void): () => void {
  const subscription = appState.addEventListener('change', (state) => {
    if (state === 'active') check();
  });
  return () => subscription.remove();
}
