// The raw Socket.IO reference: a bare server with an ack echo and room fan-out, nothing else.
// Runs in its own process (started by bench/run.ts with --expose-gc), driven over IPC.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { heapAfterGc, now } from './lib/clock.ts';
import { serve } from './lib/ipc.ts';

const http = createServer();
const io = new Server(http, { serveClient: false, transports: ['polling', 'websocket'] });

/** Emit time of every fan-out event, by sequence number (the clients key their receipts by it). */
const emitTimes = new Map<number, number>();
let seq = 0;

io.on('connection', (socket) => {
  // Echo: the reference for one command round trip.
  socket.on('echo', (payload: unknown, ack: (response: unknown) => void) => {
    if (typeof ack === 'function') ack({ ok: true, data: payload });
  });
  socket.on('join', (room: string, ack: (response: unknown) => void) => {
    void socket.join(room);
    if (typeof ack === 'function') ack({ ok: true, data: { room } });
  });
  // Fan-out: one event to every socket in the room, shaped like Emporium's stock:changed.
  socket.on('fire', (payload: { room: string }, ack: (response: unknown) => void) => {
    const version = ++seq;
    emitTimes.set(version, now());
    io.to(payload.room).emit('tick', { productId: payload.room, available: 1_000_000 + version, onHand: 1_000_000 + version, version });
    if (typeof ack === 'function') ack({ ok: true, data: { stock: { version } } });
  });
});

const listening = new Promise<number>((resolve) => http.listen(0, '127.0.0.1', () => resolve((http.address() as AddressInfo).port)));

serve({
  async info() {
    return { url: `http://127.0.0.1:${await listening}` };
  },
  heap: () => heapAfterGc(),
  /** CPU time this process used so far (user + system), in ms. */
  cpu: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  },
  sockets: () => io.of('/').sockets.size,
  commitTimes: () => Object.fromEntries(emitTimes),
  clearCommitTimes: () => {
    emitTimes.clear();
    return true;
  },
  async stop() {
    io.disconnectSockets(true);
    await new Promise<void>((resolve) => io.close(() => resolve()));
    setImmediate(() => process.exit(0));
    return true;
  },
});
