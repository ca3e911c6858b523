/**
 * Forces a full GC in another Node process through its inspector
 * (`--inspect=127.0.0.1:0`, Chrome DevTools Protocol `HeapProfiler.collectGarbage`),
 * so memory is measured after a GC without changing the measured server's code.
 */
import WebSocket from 'ws';

/** Finds the `ws://…` debugger URL in a process's stderr output. */
export function debuggerUrl(output: string): string | null {
  return /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1] ?? null;
}

export async function collectGarbage(url: string, times = 2): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  try {
    for (let id = 1; id <= times; id++) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('inspector did not answer collectGarbage')), 30_000);
        const onMessage = (data: WebSocket.RawData) => {
          const reply = JSON.parse(data.toString()) as { id?: number; error?: { message: string } };
          if (reply.id !== id) return;
          clearTimeout(timer);
          ws.off('message', onMessage);
          if (reply.error) reject(new Error(reply.error.message));
          else resolve();
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      });
    }
  } finally {
    ws.close();
  }
}
