// The echo server the floors share (bare.mjs, bare-worker.mjs, bare-worker-spin.mjs): bare
// node:http answering Cog's echo prediction with the same kind of body; `answer(id, input, reply)`
// makes each one's output (at once, or through a worker thread) and calls `reply(output)`.
import { createServer } from 'node:http';

export function serveEcho(answer) {
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
      answer(id, input, (output) => {
        const body = JSON.stringify({ id: `pred_${id.toString(16)}`, status: 'succeeded', output, logs: '', metrics: { predict_time: 0 } });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      });
    });
  });
  server.listen(Number(process.env.PORT), '127.0.0.1');
}
