// What a spinning handoff would buy at c=1: bare-worker.mjs, but after posting, each side spins
// (at most SPIN_MAIN_US / SPIN_WORKER_US, default 50 µs each) on a shared counter for the other's
// next message and takes it with receiveMessageOnPort, so that neither thread sleeps and is woken
// between a request and its answer. The server's thread spins only while one request is in flight.
// cog-node does not do this (it burns a core while it waits); ab.mjs shows what it would be worth.
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { serveEcho } from './floor.mjs';

const spinMainMs = Number(process.env.SPIN_MAIN_US ?? 50) / 1000;
const spinWorkerMs = Number(process.env.SPIN_WORKER_US ?? 50) / 1000;
// [0]: messages the server's thread posted, [1]: messages the worker posted.
const posted = new Int32Array(new SharedArrayBuffer(8));
const { port1, port2 } = new MessageChannel();
new Worker(
  `const { workerData, receiveMessageOnPort } = require('node:worker_threads');
   const { posted, port, spinMs } = workerData;
   let seen = 0;
   const answer = ({ id, input }) => { port.postMessage({ id, output: input.text }); Atomics.add(posted, 1, 1); };
   port.on('message', (message) => {
     seen += 1;
     answer(message);
     for (const until = performance.now() + spinMs; performance.now() < until; ) {
       if (Atomics.load(posted, 0) === seen) continue;
       const next = receiveMessageOnPort(port);
       if (next === undefined) break;
       seen += 1;
       answer(next.message);
     }
   });`,
  { eval: true, workerData: { posted, port: port2, spinMs: spinWorkerMs }, transferList: [port2] },
);
const waiting = new Map();
let answered = 0;
function onAnswer({ id, output }) {
  answered += 1;
  const reply = waiting.get(id);
  waiting.delete(id);
  reply(output);
}
port1.on('message', onAnswer);

serveEcho((id, input, reply) => {
  waiting.set(id, reply);
  port1.postMessage({ id, input });
  Atomics.add(posted, 0, 1);
  if (waiting.size !== 1) return;
  for (const until = performance.now() + spinMainMs; waiting.size > 0 && performance.now() < until;) {
    if (Atomics.load(posted, 1) === answered) continue;
    const next = receiveMessageOnPort(port1);
    if (next !== undefined) onAnswer(next.message);
  }
});
