// The far end of the raw TCP baseline, run as a child process by baselines.mjs (measureTcp). Listens on a free
// loopback port, reports it over IPC, then serves connections that start with one request line:
//   "discard <n>\n": reads and drops everything until the client ends, then replies with the byte count.
//   "source <n>\n":  sends n payload bytes with backpressure, then ends.
import { createServer } from 'node:net';

import { payloadChunks, writeWithBackpressure } from './baselines.mjs';

const server = createServer({ noDelay: true }, (socket) => {
  let head = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  const onRequest = (piece) => {
    head = Buffer.concat([head, piece]);
    const end = head.indexOf(0x0a);
    if (end < 0) return;
    socket.off('data', onRequest);
    const [command, size] = head.subarray(0, end).toString('latin1').split(' ');
    if (command === 'discard') {
      let counted = head.length - end - 1;
      socket.on('data', (data) => { counted += data.length; });
      socket.on('end', () => socket.end(`${counted}\n`));
    } else if (command === 'source') {
      (async () => {
        for (const chunk of payloadChunks(Number(size))) await writeWithBackpressure(socket, chunk);
        socket.end();
      })().catch(() => socket.destroy());
    } else {
      socket.destroy();
    }
  };
  socket.on('data', onRequest);
});

server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
