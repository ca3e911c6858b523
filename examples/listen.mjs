// A minimal Townsquare WebSocket client: authenticate, subscribe, print frames.
//   node examples/listen.mjs <relay ws url> <token> <channel> [stop after N messages]
import WebSocket from 'ws';

const [url, token, channel, count] = process.argv.slice(2);
if (!url || !token || !channel) {
  console.error('usage: node examples/listen.mjs <ws url> <token> <channel> [count]');
  process.exit(2);
}
let remaining = count ? Number(count) : Infinity;

const ws = new WebSocket(url);
ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token })));
ws.on('message', (data) => {
  const frame = JSON.parse(data.toString());
  console.log('<-', JSON.stringify(frame));
  if (frame.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', channel, ref: 1 }));
  if (frame.type === 'message' && --remaining === 0) ws.close(1000);
});
ws.on('close', (code, reason) => {
  console.log(`closed ${code} ${reason}`);
  process.exit(code === 1000 ? 0 : 1);
});
