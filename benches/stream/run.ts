// Streaming throughput, side by side in one run: one generator (n short string tokens, no delay)
// read by an in-process consumer and by an SSE client, through
//   - a plain JS async iterator (`for await` over the generator: no cog-node at all, the floor),
//   - cog-node embedded (`loadPredictor(Predictor).stream()`, in this process),
//   - cog-node's server over SSE (`cog-node serve`: the predictor in a worker thread),
//   - cog-node's server over SSE with `--in-process` (no worker: isolates the thread hop),
//   - Cog's own server over SSE (coglet from PyPI, `@cog.streaming`, the same generator in Python).
// Tokens/s is the median of BENCH_ROUNDS interleaved runs; server CPU is the server's process
// tree (threads and worker subprocesses included) per token, and in brackets its main thread's
// (for cog-node: the server; the rest is the worker thread, GC and I/O threads).
//
// Run: node --import tsx benches/stream/run.ts   (BENCH_TOKENS, BENCH_COG_TOKENS, BENCH_ROUNDS)
// BENCH_BEFORE=<checkout>: also `cog-node serve` (worker thread) of that checkout (built, with
// its own benches/stream/tokens-node), in the same rounds: a before/after row pair.
import http from 'node:http';
import { join } from 'node:path';
import { loadPredictor } from 'cog-node';
import {
  buildDist,
  COG_VERSION,
  cpuSeconds,
  ensureCog,
  fmt,
  loadAverage,
  median,
  rssBytes,
  saveResults,
  startCogNode,
  startCoglet,
  threadCpuSeconds,
  type Server,
} from '../harness.js';
import { Predictor, tokens } from './tokens-node/predict.js';

const here = import.meta.dirname;
const TOKENS = Number(process.env.BENCH_TOKENS ?? 200_000);
// coglet streams ~10x slower: fewer tokens keep the run short (tokens/s does not depend on n).
const COG_TOKENS = Number(process.env.BENCH_COG_TOKENS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TARGET = 200_000;
const BEFORE = process.env.BENCH_BEFORE;

interface Run {
  tokens: number;
  seconds: number;
  /** Server CPU seconds during the run (SSE contenders only): all of it, and its main thread's. */
  cpu?: number;
  mainThreadCpu?: number;
}

interface Contender {
  name: string;
  consumer: 'in-process' | 'SSE';
  tokens: number;
  run(n: number): Promise<Run>;
  close?(): void | Promise<void>;
  /** An SSE contender's server (for the slow-client check). */
  server?: Server;
}

/** What a consumer does with each token: enough that it cannot be optimised away. */
let sink = 0;

async function plainIterator(n: number): Promise<Run> {
  const started = performance.now();
  let count = 0;
  for await (const token of tokens(n)) {
    sink += token.length;
    count += 1;
  }
  return { tokens: count, seconds: (performance.now() - started) / 1000 };
}

/**
 * One SSE prediction: POST with `Accept: text/event-stream`, split the body into frames, count
 * `output` events. Checks that every token arrived, in order, and that it ended `succeeded`.
 */
function sseRun(server: Server, n: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const cpuBefore = cpuSeconds(server.child.pid!);
    const mainBefore = threadCpuSeconds(server.child.pid!).main;
    const started = performance.now();
    let count = 0;
    let rest = '';
    let lastOutput = '';
    let completed = '';
    const request = http.request(
      `${server.url}/predictions`,
      { method: 'POST', headers: { accept: 'text/event-stream', 'content-type': 'application/json' } },
      (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`${server.name} answered ${response.statusCode}`));
          response.resume();
          return;
        }
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          const text = rest + chunk;
          const end = text.lastIndexOf('\n\n');
          if (end < 0) {
            rest = text;
            return;
          }
          rest = text.slice(end + 2);
          for (const frame of text.slice(0, end).split('\n\n')) {
            if (frame.startsWith('event: output\n')) {
              count += 1;
              lastOutput = frame;
            } else if (frame.startsWith('event: completed\n')) {
              completed = frame;
            } else if (frame.startsWith('event: error\n')) {
              reject(new Error(`${server.name}: ${frame}`));
            }
          }
        });
        response.on('end', () => {
          const seconds = (performance.now() - started) / 1000;
          const cpu = cpuSeconds(server.child.pid!) - cpuBefore;
          const mainThreadCpu = threadCpuSeconds(server.child.pid!).main - mainBefore;
          const last = lastOutput ? (JSON.parse(lastOutput.slice(lastOutput.indexOf('data: ') + 6)) as { index: number }).index : -1;
          if (count !== n || last !== n - 1)
            return reject(new Error(`${server.name}: ${count} output events (last index ${last}) for ${n} tokens`));
          if (!completed.includes('"status":"succeeded"')) return reject(new Error(`${server.name}: no succeeded completed event`));
          resolve({ tokens: count, seconds, cpu, mainThreadCpu });
        });
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify({ input: { n } }));
  });
}

/** Tokens a slow client's prediction asks for: far more than it reads, so only backpressure bounds memory. */
const SLOW_TOKENS = 5_000_000;

/**
 * A slow SSE client (it reads 1 KiB a second): the server's RSS before, and after each of
 * `seconds` seconds. Memory must stay flat: the generator is held back by the channel and the
 * window, not free to produce its 5M tokens into memory. Then the client hangs up (the
 * prediction is cancelled) and this waits for the server to be READY again.
 */
async function slowClient(server: Server, seconds = 4): Promise<{ rssMiB: number[]; read: number }> {
  const pid = server.child.pid!;
  const rssMiB = [rssBytes(pid) / 2 ** 20];
  const { request, response } = await new Promise<{ request: http.ClientRequest; response: http.IncomingMessage }>((resolve, reject) => {
    const request = http.request(
      `${server.url}/predictions`,
      { method: 'POST', headers: { accept: 'text/event-stream', 'content-type': 'application/json' } },
      (response) => resolve({ request, response }),
    );
    request.on('error', reject);
    request.end(JSON.stringify({ input: { n: SLOW_TOKENS } }));
  });
  response.pause();
  let read = 0;
  for (let second = 0; second < seconds; second++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    read += (response.read(1024) as Buffer | null)?.length ?? 0;
    rssMiB.push(rssBytes(pid) / 2 ** 20);
  }
  request.destroy();
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const status = await fetch(`${server.url}/health-check`).then(
      async (answer) => ((await answer.json()) as { status?: string }).status,
      () => undefined,
    );
    if (status === 'READY') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { rssMiB, read };
}

async function contenders(): Promise<Contender[]> {
  const embedded = await loadPredictor(Predictor);
  const worker = await startCogNode(join(here, 'tokens-node'), { name: 'cog-node serve' });
  const inProcess = await startCogNode(join(here, 'tokens-node'), { name: 'cog-node serve --in-process', args: ['--in-process'] });
  const coglet = await startCoglet(join(here, 'tokens-python'));
  const before =
    BEFORE === undefined
      ? undefined
      : await startCogNode(join(BEFORE, 'benches', 'stream', 'tokens-node'), { name: 'cog-node serve, before', root: BEFORE });
  const beforeRow: Contender[] =
    before === undefined
      ? []
      : [
          {
            name: `cog-node serve (worker thread), before (${BEFORE})`,
            consumer: 'SSE',
            tokens: TOKENS,
            run: (n) => sseRun(before, n),
            close: before.stop,
            server: before,
          },
        ];
  return [
    { name: 'JS async iterator (for await)', consumer: 'in-process', tokens: TOKENS, run: plainIterator },
    {
      name: 'cog-node embedded stream()',
      consumer: 'in-process',
      tokens: TOKENS,
      run: async (n) => {
        const started = performance.now();
        let count = 0;
        for await (const token of embedded.stream({ n })) {
          sink += (token as string).length;
          count += 1;
        }
        return { tokens: count, seconds: (performance.now() - started) / 1000 };
      },
      close: () => embedded.runtime.close(),
    },
    {
      name: 'cog-node serve (worker thread)',
      consumer: 'SSE',
      tokens: TOKENS,
      run: (n) => sseRun(worker, n),
      close: worker.stop,
      server: worker,
    },
    {
      name: 'cog-node serve --in-process',
      consumer: 'SSE',
      tokens: TOKENS,
      run: (n) => sseRun(inProcess, n),
      close: inProcess.stop,
      server: inProcess,
    },
    {
      name: `coglet ${COG_VERSION} (@cog.streaming)`,
      consumer: 'SSE',
      tokens: COG_TOKENS,
      run: (n) => sseRun(coglet, n),
      close: coglet.stop,
    },
    ...beforeRow,
  ];
}

interface Result {
  name: string;
  consumer: string;
  tokens: number;
  tokensPerSecond: number;
  runs: number[];
  cpuMicrosPerToken?: number;
  mainThreadMicrosPerToken?: number;
}

ensureCog();
buildDist();
const loadBefore = loadAverage();
const list = await contenders();
const runs = list.map((): Run[] => []);
const slowClients: { name: string; rssMiB: number[]; read: number }[] = [];
try {
  for (const contender of list) {
    // Warm-up (JIT, connections); also checks every token arrives.
    const n = Math.min(contender.tokens, 10_000);
    if ((await contender.run(n)).tokens !== n) throw new Error(`${contender.name} lost tokens`);
  }
  // Interleaved: drift in the machine's load hits every contender alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, contender] of list.entries()) {
      const run = await contender.run(contender.tokens);
      if (run.tokens !== contender.tokens) throw new Error(`${contender.name}: ${run.tokens} of ${contender.tokens} tokens`);
      runs[index]!.push(run);
      console.error(`round ${round + 1} ${contender.name}: ${fmt(run.tokens / run.seconds)} tokens/s`);
    }
  }
  for (const contender of list) {
    if (contender.server === undefined) continue;
    const slow = await slowClient(contender.server);
    slowClients.push({ name: contender.name, ...slow });
    console.error(`slow client ${contender.name}: RSS ${slow.rssMiB.map((mib) => mib.toFixed(0)).join(' → ')} MiB`);
  }
} finally {
  for (const contender of list) await contender.close?.();
}

const results: Result[] = list.map((contender, index) => {
  const mine = runs[index]!;
  const rates = mine.map((run) => run.tokens / run.seconds);
  const cpus = mine.filter((run) => run.cpu !== undefined).map((run) => (run.cpu! * 1e6) / run.tokens);
  const mains = mine.filter((run) => run.mainThreadCpu !== undefined).map((run) => (run.mainThreadCpu! * 1e6) / run.tokens);
  return {
    name: contender.name,
    consumer: contender.consumer,
    tokens: contender.tokens,
    tokensPerSecond: median(rates),
    runs: rates.map(Math.round),
    cpuMicrosPerToken: cpus.length > 0 ? median(cpus) : undefined,
    mainThreadMicrosPerToken: mains.length > 0 ? median(mains) : undefined,
  };
});

const [plain, embedded, worker, inProcess, coglet, before] = results as [Result, Result, Result, Result, Result, Result?];
const ratio = (a: number, b: number) => `${(a / b).toFixed(a / b < 0.1 ? 3 : 2)}×`;
const lines = [
  `Tokens/s, median of ${ROUNDS} interleaved runs (node ${process.version}, ${TOKENS.toLocaleString('en-US')} tokens; coglet ${COG_TOKENS.toLocaleString('en-US')}); load average ${loadBefore} before, ${loadAverage()} after`,
  '',
  '| generator read by | consumer | tokens/s | runs | server CPU/token (main thread) | ÷ JS iterator | ÷ coglet SSE |',
  '| --- | --- | ---: | --- | ---: | ---: | ---: |',
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.consumer} | ${fmt(r.tokensPerSecond)} | ${r.runs.map((x) => fmt(x)).join(', ')} | ${r.cpuMicrosPerToken === undefined ? '—' : `${fmt(r.cpuMicrosPerToken, 1)} µs${r.name.startsWith('cog-node') ? ` (${fmt(r.mainThreadMicrosPerToken ?? Number.NaN, 1)})` : ''}`} | ${ratio(r.tokensPerSecond, plain.tokensPerSecond)} | ${ratio(r.tokensPerSecond, coglet.tokensPerSecond)} |`,
  ),
  '',
  `cog-node SSE (worker) ÷ embedded: ${ratio(worker.tokensPerSecond, embedded.tokensPerSecond)}; worker ÷ --in-process: ${ratio(worker.tokensPerSecond, inProcess.tokensPerSecond)}.`,
  ...(before === undefined ? [] : [`cog-node SSE (worker) ÷ before: ${ratio(worker.tokensPerSecond, before.tokensPerSecond)}.`]),
  `Target ≥${fmt(TARGET)} tokens/s over SSE: ${worker.tokensPerSecond >= TARGET ? 'met' : 'not met'} (${fmt(worker.tokensPerSecond)}).`,
];
lines.push(
  '',
  `A slow SSE client (reads 1 KiB a second) of a ${SLOW_TOKENS.toLocaleString('en-US')}-token prediction: server RSS before, then each second (MiB)`,
  '',
  '| server | RSS before → each second | growth |',
  '| --- | --- | ---: |',
  ...slowClients.map(
    (slow) =>
      `| ${slow.name} | ${slow.rssMiB.map((mib) => mib.toFixed(0)).join(' → ')} | ${(slow.rssMiB.at(-1)! - slow.rssMiB[0]!).toFixed(1)} MiB |`,
  ),
);
console.log(lines.join('\n'));
if (sink === 0) console.log('(nothing consumed)');
saveResults(here, {
  loadavg: [loadBefore, loadAverage()],
  tokens: TOKENS,
  cogTokens: COG_TOKENS,
  results,
  slowClients,
});
