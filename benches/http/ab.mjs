// Builds side by side: `node benches/http/ab.mjs ROUNDS SECONDS DIR...` runs the echo predictor's
// server (DIR/benches/http/serve-node.mjs, DIR's own dist/) of each DIR ('bare': bare.mjs;
// 'bare-worker': bare-worker.mjs, the same with a worker thread round trip per request;
// 'bare-worker-spin': bare-worker-spin.mjs, that round trip with both threads spinning), round
// by round interleaved, under wrk at c=1 and c=16, and prints per-round figures and medians:
// req/s, p99, and CPU per request of the main thread, the busiest other thread (the predictor's
// worker) and the rest (GC helpers, I/O), from /proc/<pid>/task. EXTRA_ENV='{"COG_QUEUE_MAX":"1000"}'
// adds settings. A baseline DIR: a copy of dist/, package.json, index.js and the addon of that build.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
const [rounds, seconds, ...dirs] = process.argv.slice(2);
const TICKS = 100;
/** `CONCURRENCY=1,16` (default): wrk's connections, one point each. */
const CONCURRENCY = (process.env.CONCURRENCY ?? '1,16').split(',').map(Number);
const here = import.meta.dirname;
const lua = `${here}/post.lua`;
function threads(pid) {
  const per = {};
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
      per[t] = (Number(f[11]) + Number(f[12])) / TICKS;
    } catch {}
  }
  return per;
}
function split(pid, a, b) {
  let main = 0,
    worker = 0,
    others = 0;
  const ds = [];
  for (const t of Object.keys(b)) {
    const d = b[t] - (a[t] ?? 0);
    if (t === String(pid)) main = d;
    else ds.push(d);
  }
  ds.sort((x, y) => y - x);
  worker = ds[0] ?? 0;
  others = ds.slice(1).reduce((x, y) => x + y, 0);
  return { main, worker, others };
}
function wrk(port, c, secs) {
  const out = execFileSync(
    'wrk',
    ['-t1', `-c${c}`, `-d${secs}s`, '--timeout', '30s', '--latency', '-s', lua, `http://127.0.0.1:${port}/predictions`],
    { encoding: 'utf8' },
  );
  const toMs = (s) => (s.endsWith('us') ? parseFloat(s) / 1000 : s.endsWith('ms') ? parseFloat(s) : parseFloat(s) * 1000);
  const req = Number(/(\d+) requests in/.exec(out)[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const el = /requests in ([\d.]+)(m?s)/.exec(out);
  const elapsed = el[2] === 'ms' ? Number(el[1]) / 1000 : Number(el[1]);
  return {
    req,
    rps: (req - non2xx) / elapsed,
    non2xx,
    p50: toMs(/^\s*50%\s+(\S+)/m.exec(out)[1]),
    p99: toMs(/^\s*99%\s+(\S+)/m.exec(out)[1]),
  };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Ports from the pid: two runs at once (two engineers on one machine) do not take the same ones.
let port = 20000 + (process.pid % 400) * 50;
const results = {};
for (let r = 0; r < Number(rounds); r++) {
  for (const dir of dirs) {
    port++;
    const env = {
      ...process.env,
      PORT: String(port),
      COG_MAX_CONCURRENCY: '64',
      ...(process.env.EXTRA_ENV ? JSON.parse(process.env.EXTRA_ENV) : {}),
    };
    // 'bare' and 'bare-worker' are the floors (bare.mjs, bare-worker.mjs); any other DIR is a build,
    // DIR:in-process that build's server with the predictor in its own thread.
    const floor = dir === 'bare' || dir === 'bare-worker' || dir === 'bare-worker-spin';
    const [root, mode] = dir.split(':');
    if (mode === 'in-process') env.BENCH_IN_PROCESS = '1';
    const child = floor
      ? spawn(process.execPath, [`${here}/${dir}.mjs`], { env, stdio: 'ignore' })
      : spawn(process.execPath, [`${root}/benches/http/serve-node.mjs`], { env, stdio: 'ignore', cwd: root });
    for (let i = 0; i < 600; i++) {
      try {
        const b = await (await fetch(`http://127.0.0.1:${port}/health-check`)).json();
        if (floor || b.status === 'READY') break;
      } catch {}
      await sleep(20);
    }
    wrk(port, 16, 2);
    const row = {};
    for (const c of CONCURRENCY) {
      const before = threads(child.pid);
      const w = wrk(port, c, Number(seconds));
      const d = split(child.pid, before, threads(child.pid));
      row[`c${c}`] = { ...w, mainUs: (d.main * 1e6) / w.req, workerUs: (d.worker * 1e6) / w.req, otherUs: (d.others * 1e6) / w.req };
    }
    child.kill('SIGKILL');
    (results[dir] ??= []).push(row);
    const point = (c) => {
      const x = row[`c${c}`];
      return `c${c} ${x.rps.toFixed(0)} rps p50 ${x.p50.toFixed(2)} p99 ${x.p99.toFixed(2)} cpu main ${x.mainUs.toFixed(1)} worker ${x.workerUs.toFixed(1)} other ${x.otherUs.toFixed(1)} µs non2xx ${x.non2xx}`;
    };
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`round ${r} ${dir.padEnd(20)} ${CONCURRENCY.map(point).join(' | ')} | load ${load}`);
    await sleep(300);
  }
}
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log('\nmedians:');
for (const dir of dirs) {
  const rs = results[dir];
  const m = (k, f) => med(rs.map((x) => x[k][f]));
  const point = (c) => {
    const k = `c${c}`;
    const total = m(k, 'mainUs') + m(k, 'workerUs') + m(k, 'otherUs');
    return `c${c} ${m(k, 'rps').toFixed(0)} rps p99 ${m(k, 'p99').toFixed(2)} cpu/req main ${m(k, 'mainUs').toFixed(1)} worker ${m(k, 'workerUs').toFixed(1)} other ${m(k, 'otherUs').toFixed(1)} total ${total.toFixed(1)}`;
  };
  console.log(`${dir.padEnd(22)} ${CONCURRENCY.map(point).join(' | ')}`);
}
