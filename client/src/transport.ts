/**
 * One WebSocket, wrapped: JSON frames out, decoded frames in, and a close
 * that is reported exactly once. Closing locally does not wait for the peer:
 * a silently dead socket would never answer the close handshake.
 */
import { decodeFrame, type Decoded } from './frames.js';
import type { WebSocketConstructor, WebSocketLike } from './types.js';

const OPEN = 1;

export interface TransportHandlers {
  open(): void;
  frame(decoded: Decoded): void;
  close(code: number, reason: string): void;
}

export class Transport {
  private ws: WebSocketLike | null;
  /** Set by the owner: called when the handshake ended (welcome or close). */
  onceSettled: (() => void) | undefined;

  constructor(WebSocketImpl: WebSocketConstructor, readonly url: string, private readonly handlers: TransportHandlers) {
    const ws = new WebSocketImpl(url);
    this.ws = ws;
    ws.onopen = () => this.handlers.open();
    ws.onmessage = (event) => this.handlers.frame(decodeFrame(event.data));
    // `error` is always followed by `close`, which says what happened.
    ws.onerror = () => {};
    ws.onclose = (event) => this.finish(event.code, event.reason || '');
  }

  get isOpen(): boolean {
    return this.ws?.readyState === OPEN;
  }

  /** Sends one frame; false when the socket is not open (the caller treats the frame as lost). */
  send(frame: object): boolean {
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Closes now and reports `code` at once, whatever the peer does. */
  close(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    try {
      // `ws` in Node: drop the TCP connection without waiting for a close frame back.
      const terminate = (ws as { terminate?: () => void }).terminate;
      if (code !== 1000 && typeof terminate === 'function') terminate.call(ws);
      else ws.close(code >= 3000 && code < 5000 ? code : 1000, reason);
    } catch {
      // already closing
    }
    this.finish(code, reason);
  }

  private finish(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    this.handlers.close(code, reason);
  }
}
