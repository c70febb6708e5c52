// The floor: a bare node:http server answering the same request with the same kind of body.
import { createServer } from 'node:http';

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
    const body = JSON.stringify({
      id: `pred_${(n++).toString(16)}`,
      status: 'succeeded',
      output: input.text,
      logs: '',
      metrics: { predict_time: 0 },
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
