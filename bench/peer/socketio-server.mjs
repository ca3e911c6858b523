// The peer: a Socket.IO 4 server with @socket.io/redis-adapter, run as its own
// process like a Townsquare relay. Clients join a room with an acked `join`
// event; broadcasts arrive from Redis (the publisher uses @socket.io/redis-emitter).
// It serves the same prom-client default metrics as the relay on /metrics, so
// both are measured the same external way. Plain JS so it runs without a loader.
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 0);
const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  console.error('REDIS_URL is required');
  process.exit(78);
}

const registry = new Registry();
collectDefaultMetrics({ register: registry });

const http = createServer(async (req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', connections: io.engine.clientsCount }));
  } else if (path === '/metrics') {
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
  } else {
    res.writeHead(404);
    res.end();
  }
});

const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  adapter: createAdapter(pub, sub),
});

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    if (typeof room === 'string') socket.join(room);
    if (typeof ack === 'function') ack();
  });
});

http.listen(port, '127.0.0.1', () => {
  console.error(`socket.io peer listening on ${http.address().port}`);
});

const stop = () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
