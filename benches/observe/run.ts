// What observability costs, side by side in one run: (1) startup: importing cog-node alone, and
// with the OpenTelemetry SDK that tracing loads (dist/observe/otel.js), each in fresh processes,
// alternated; (2) per prediction: an echo predictor run in process through its runtime, bare,
// watched by the /metrics registry, and watched by metrics and tracing (spans exported to a local
// OTLP receiver that answers 200), rounds alternated. Medians; ratios to the bare contender.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { root, sh } from '../harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const PREDICTIONS = Number(process.env.BENCH_PREDICTIONS ?? 2000);

if (!process.env.BENCH_NO_BUILD) sh('npm', ['run', 'build:ts']);
const dist = join(root, 'dist');

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Runs `code` (an ES module printing JSON) in a fresh node process; returns what it printed. */
function fresh(code: string): Record<string, number> {
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' })) as Record<
    string,
    number
  >;
}

const index = JSON.stringify(join(dist, 'index.js'));
const otel = JSON.stringify(join(dist, 'observe', 'otel.js'));
// In each fresh process: how long importing cog-node takes, then the SDK that tracing loads.
// prom-client first, on its own: cog-node imports it for /metrics whether or not anyone scrapes.
const probe = `let t = performance.now(); await import('prom-client'); const prom = performance.now() - t;
t = performance.now(); await import(${index}); const index = performance.now() - t;
t = performance.now(); await import(${otel}); const sdk = performance.now() - t;
console.log(JSON.stringify({ prom, index, sdk }));`;
const startup = { prom: [] as number[], index: [] as number[], sdk: [] as number[] };
fresh(probe); // warm the disk cache
for (let round = 0; round < ROUNDS; round++) {
  const { prom, index: indexMs, sdk } = fresh(probe);
  startup.prom.push(prom!);
  startup.index.push(indexMs!);
  startup.sdk.push(sdk!);
}

// Per prediction, in this process.
const { BasePredictor, CogMetrics, CogTracing, Input, Type, loadPredictor } = await import(join(dist, 'index.js'));
class Echo extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();
  async predict({ text }: { text: string }): Promise<string> {
    return text;
  }
}
const receiver = createServer((request, response) => {
  request.resume();
  request.on('end', () => response.end('{}'));
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const collector = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;

const bare = await loadPredictor(Echo);
const metered = await loadPredictor(Echo);
new CogMetrics({ processMetrics: false }).watch(metered.runtime);
const traced = await loadPredictor(Echo);
new CogMetrics({ processMetrics: false }).watch(traced.runtime);
const tracing = new CogTracing({ enabled: true, url: collector, headers: {}, sampler: 'always_on', ratio: 1, serviceName: 'bench' });
tracing.watch(traced.runtime);

/** µs per prediction, `PREDICTIONS` run one after another. */
async function perPrediction(predictor: typeof bare): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < PREDICTIONS; i++) await predictor.runtime.start({ text: 'hello' }).done;
  return ((performance.now() - started) * 1000) / PREDICTIONS;
}
const per = { bare: [] as number[], metrics: [] as number[], traced: [] as number[] };
await perPrediction(bare);
await perPrediction(metered);
await perPrediction(traced);
for (let round = 0; round < Math.max(5, Math.floor(ROUNDS / 3)); round++) {
  per.bare.push(await perPrediction(bare));
  per.metrics.push(await perPrediction(metered));
  per.traced.push(await perPrediction(traced));
}
await tracing.shutdown();
receiver.close();

const ms = (value: number) => `${value.toFixed(1)} ms`;
const us = (value: number) => `${value.toFixed(1)} µs`;
console.log(`startup, median of ${ROUNDS} fresh processes (import times measured inside each):`);
console.log(`  import prom-client (/metrics)         ${ms(median(startup.prom))}`);
console.log(`  then the rest of cog-node             ${ms(median(startup.index))}`);
console.log(
  `  then the OTel SDK (tracing on only)   ${ms(median(startup.sdk))}  (${(median(startup.sdk) / (median(startup.prom) + median(startup.index))).toFixed(2)}× cog-node's whole import)`,
);
console.log(`per prediction (echo, in process, ${PREDICTIONS} in a row), median of ${per.bare.length} rounds:`);
console.log(`  bare runtime                          ${us(median(per.bare))}`);
console.log(
  `  + /metrics registry                   ${us(median(per.metrics))}  (${(median(per.metrics) / median(per.bare)).toFixed(2)}×)`,
);
console.log(`  + /metrics and tracing (always_on)    ${us(median(per.traced))}  (${(median(per.traced) / median(per.bare)).toFixed(2)}×)`);
process.exit(0);
