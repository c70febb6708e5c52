// The floor for a server whose predictor runs in a worker thread: bare.mjs, but each request's
// input goes to a worker_threads Worker and its output comes back (one postMessage each way, as
// little as such a server can do), so that ab.mjs shows what the thread hop itself costs.
import { createServer } from 'node:http';
import { Worker } from 'node:worker_threads';

const worker = new Worker(
  `const { parentPort } = require('node:worker_threads');
   parentPort.on('message', ({ id, input }) => parentPort.postMessage({ id, output: input.text }));`,
  { eval: true },
);
const waiting = new Map();
worker.on('message', ({ id, output }) => {
  const answer = waiting.get(id);
  waiting.delete(id);
  answer(output);
});

let n = 0;
const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end('{"status":"READY"}');
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const { input } = JSON.parse(Buffer.concat(chunks).toString());
    const id = n++;
    waiting.set(id, (output) => {
      const body = JSON.stringify({ id: `pred_${id.toString(16)}`, status: 'succeeded', output, logs: '', metrics: { predict_time: 0 } });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    worker.postMessage({ id, input });
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
