// The floor for a server whose predictor runs in a worker thread: bare.mjs, but each request's
// input goes to a worker_threads Worker and its output comes back (one postMessage each way, as
// little as such a server can do), so that ab.mjs shows what the thread hop itself costs.
import { Worker } from 'node:worker_threads';
import { serveEcho } from './floor.mjs';

const worker = new Worker(
  `const { parentPort } = require('node:worker_threads');
   parentPort.on('message', ({ id, input }) => parentPort.postMessage({ id, output: input.text }));`,
  { eval: true },
);
const waiting = new Map();
worker.on('message', ({ id, output }) => {
  const reply = waiting.get(id);
  waiting.delete(id);
  reply(output);
});

serveEcho((id, input, reply) => {
  waiting.set(id, reply);
  worker.postMessage({ id, input });
});
