/**
 * How frames leave the relay for one `ws` socket.
 *
 * Outgoing frames are batched per socket and written with one `socket.write`
 * once the event loop has finished the I/O it is processing (setImmediate):
 * a Redis read often carries many messages, and libuv may hand the relay
 * several reads in a row; one write per socket per loop turn (instead of one
 * per frame) is most of the relay's fan-out cost. Every frame of a connection
 * goes through the batch, so their order is kept.
 */
import { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { SharedFrame, Transport } from './connection.js';
import { CloseCode } from '../protocol/codes.js';
import { encodeTextFrame } from './wire.js';

let dirty: WsTransport[] = [];

function flushAll(): void {
  const transports = dirty;
  dirty = [];
  for (const transport of transports) transport.flush();
}

/**
 * The net.Socket under a `ws` WebSocket, or null when it is not where ws 8
 * keeps it (`_socket`, private). The one place that relies on ws's internals:
 * with permessage-deflate off, ws's Sender never queues, so whole frames
 * written straight to the socket interleave safely with the control frames
 * (ping, close) ws writes itself. ws is pinned to an exact version; should an
 * update move the field, the transport falls back to the public `ws.send`.
 */
export function rawSocketOf(ws: WebSocket): Socket | null {
  const socket = (ws as unknown as { _socket?: unknown })._socket;
  return socket instanceof Socket ? socket : null;
}

/** How long a closed socket gets to answer the close frame before it is destroyed (ws alone waits 30 s). */
export const CLOSE_GRACE_MS = 1000;

/** Sends the close frame, and destroys the socket if the client has not answered it in time. */
export function closeWithGrace(ws: WebSocket, code: number, reason: string): void {
  ws.close(code, reason);
  setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
}

/** A connection's way out: frames batched per tick, written whole to the socket. */
export class WsTransport implements Transport {
  private frames: Buffer[] = [];
  /** Null: ws's internals moved; frames go out one by one through `ws.send` (slower, correct). */
  private readonly socket: Socket | null;

  constructor(
    private readonly ws: WebSocket,
    socket: Socket | null = rawSocketOf(ws),
  ) {
    this.socket = socket;
  }

  send(data: string): void {
    if (!this.socket) return this.sendPublic(data);
    this.enqueue(encodeTextFrame(data));
  }

  sendShared(frame: SharedFrame): void {
    if (!this.socket) return this.sendPublic(frame.text);
    this.enqueue((frame.wire ??= encodeTextFrame(frame.text)));
  }

  private sendPublic(text: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(text);
  }

  /**
   * The socket's own queue (ws's Sender never buffers without permessage-deflate).
   * This turn's batch is left out on purpose: it is bounded by one turn of Redis
   * reads, and counting it would cut off healthy clients during a burst.
   */
  get bufferedAmount(): number {
    return this.socket ? this.socket.writableLength : this.ws.bufferedAmount;
  }

  close(code: number, reason: string): void {
    // The close frame follows every frame queued before it, except for a client cut
    // off for being too slow: its backlog is dropped, not pushed into a full socket.
    if (code === CloseCode.TooSlow) this.discard();
    else this.flush();
    closeWithGrace(this.ws, code, reason);
  }

  flush(): void {
    const frames = this.frames;
    if (frames.length === 0) return;
    this.discard();
    // Once ws has sent or answered a close frame, no data frame may follow it (RFC 6455 §5.5.1).
    if (this.ws.readyState !== this.ws.OPEN || !this.socket) return;
    this.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  private discard(): void {
    this.frames = [];
  }

  private enqueue(wire: Buffer): void {
    if (this.frames.length === 0) {
      if (dirty.length === 0) setImmediate(flushAll);
      dirty.push(this);
    }
    this.frames.push(wire);
  }
}
