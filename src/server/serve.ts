// `serve()` and `createApp()`: Cog's API as a server process (listening, signals, graceful stop,
// errors escaping user code) or as a Hono app to mount. What may be served is source.ts's.
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Hono } from 'hono';
import { errorMessage } from '../runtime/executor.js';
import { frontQueue } from '../fleet/gateway.js';
import { releaseWhenIdle } from '../runtime/idle-release.js';
import { CogMetrics } from '../observe/metrics.js';
import { startTracing } from '../observe/tracing.js';
import { cogRoutes } from './app.js';
import { lazyHonoListener, requestListener } from './fast-path.js';
import { serverLog } from './server-log.js';
import { CogService } from './service.js';
import type { Settings } from '../load/settings.js';
import { resolveSource, type RuntimeSettings, type ServeSource } from './source.js';

export interface AppSettings extends RuntimeSettings {
  /** `--upload-url`: output files are PUT to `<url>/<basename>`; default: data URIs. */
  uploadUrl?: string;
  /**
   * `--redis`: serve as the fleet's gateway, in front of the queue on this Redis, instead of
   * running the predictor (default `COG_REDIS_URL`; unset: run it here).
   */
  redis?: string;
  /** `--queue`: the gateway's queue (default `COG_QUEUE_NAME`, else `cog-predictions`). */
  queue?: string;
}

/** Cog's API as a Hono app, for mounting in your own server, and its service. */
export interface CogApp {
  app: Hono;
  service: CogService;
  /** Resolves when loading and setup are over (check `service.isReady` for the outcome). */
  ready: Promise<void>;
  /** This app's own Prometheus registry (`GET /metrics`): `metrics.registry` to merge it into yours. */
  metrics: CogMetrics;
  /**
   * Graceful stop: new predictions get 503, those in flight finish and their terminal webhooks
   * go out; past `COG_SHUTDOWN_TIMEOUT` (default 30 s) the rest are cancelled.
   */
  shutdown(): Promise<void>;
}

/**
 * Cog's HTTP API for a predictor, as a Hono app to mount in your own Hono or Node server:
 * `myApp.route('/', createApp(Predictor).app)`, or `getRequestListener(createApp(...).app.fetch)`
 * from `@hono/node-server` for `node:http`. Setup starts at once, in the background.
 * `POST /shutdown` calls `onShutdown` (default: `shutdown()`).
 */
export function createApp(source: ServeSource, settings: AppSettings & { onShutdown?: () => void } = {}): CogApp {
  return buildApp(source, settings).cog;
}

/** `createApp`, and the settings its resolver read (the server's port is one). */
function buildApp(source: ServeSource, options: AppSettings & { onShutdown?: () => void }): { cog: CogApp; settings: Settings } {
  const { shape, load, declarations, settings, tracing: tracingPlan } = resolveSource(source, options);
  const redis = options.redis ?? settings.redisUrl;
  if (redis !== undefined) {
    // The gateway: nothing runs here, so the service has no runtimes (it keeps shutdown's state).
    const service: CogService = new CogService({ predict: shape.predict, train: false }, () => ({}));
    const gateway = frontQueue({ redis, queue: options.queue, settings, declarations, shuttingDown: () => service.shuttingDown });
    // Its registry has the process's metrics only: the predictions' are the workers' (--port).
    const metrics = new CogMetrics();
    const app = cogRoutes(service, { onShutdown: options.onShutdown, settings, remote: gateway, metrics });
    const shutdown = () => service.shutdown(settings.shutdownTimeout).then(() => gateway.close());
    return { cog: { app, service, ready: gateway.loaded, metrics, shutdown }, settings };
  }
  const service = new CogService(shape, load);
  const metrics = new CogMetrics();
  service.watchRuntimes((runtime) => metrics.watch(runtime));
  const tracing = startTracing(tracingPlan, serverLog);
  if (tracing !== undefined) service.watchRuntimes((runtime) => tracing.watch(runtime));
  const app = cogRoutes(service, { uploadUrl: options.uploadUrl, onShutdown: options.onShutdown, settings, metrics });
  const shutdown = async () => {
    await service.shutdown(settings.shutdownTimeout);
    await tracing?.shutdown();
  };
  return { cog: { app, service, ready: service.settled, metrics, shutdown }, settings };
}

export interface ServeOptions extends AppSettings {
  /** Default `0.0.0.0`, as Cog's server in its container. */
  host?: string;
  /** Default `PORT`, else 5000; 0 picks a free port. */
  port?: number;
  /** Ignore SIGTERM; stop only on `POST /shutdown` or SIGINT (Cog's `--await-explicit-shutdown`). */
  awaitExplicitShutdown?: boolean;
  /** Exit the process with code 0 after a graceful stop (default true: this is a server process). */
  exit?: boolean;
}

export interface CogServer extends CogApp {
  server: Server;
  host: string;
  port: number;
  /** `http://host:port` (loopback when listening on every interface). */
  url: string;
  /** Resolves once the server has stopped (after `shutdown()`, `POST /shutdown` or a signal). */
  closed: Promise<void>;
}

/** Stops accepting connections and waits for open requests; stragglers are cut after a while. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), 2000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * Serves a predictor over HTTP with Cog's API (the same as `cog-node serve`): listens at once
 * (health says STARTING), loads and sets up the predictor, handles SIGTERM/SIGINT and `POST
 * /shutdown` gracefully. An error escaping user code marks the predictor DEFUNCT instead of
 * crashing the process.
 */
export async function serve(source: ServeSource, options: ServeOptions = {}): Promise<CogServer> {
  const exit = options.exit ?? true;
  let stopping: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  const { cog, settings } = buildApp(source, { ...options, onShutdown: () => void stop('POST /shutdown') });
  // node:http with the fast path in front of Hono (what createAdaptorServer would make, minus the
  // adapter's import until a request needs it: fast-path.ts).
  const server = createServer(requestListener(cog.app, lazyHonoListener(cog.app)));
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? settings.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  serverLog(`serving on http://${host}:${port}`);

  const onTerm = () => {
    if (options.awaitExplicitShutdown) serverLog('SIGTERM ignored (--await-explicit-shutdown): POST /shutdown or SIGINT stops the server');
    else void stop('SIGTERM');
  };
  const onInt = () => void stop('SIGINT');
  const onCrash = (error: unknown) => {
    // Raised in an in-process prediction's async context: that prediction fails, the rest run on.
    if (cog.service.runtime('predict')?.failEscaped(error) || cog.service.runtime('train')?.failEscaped(error)) return;
    cog.service.markDefunct(error instanceof Error ? (error.stack ?? error.message) : errorMessage(error));
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  function stop(reason: string): Promise<void> {
    if (stopping !== undefined) {
      if (reason.startsWith('SIG')) {
        serverLog(`${reason} again: exiting now`);
        process.exit(1);
      }
      return stopping;
    }
    serverLog(`shutting down (${reason})`);
    stopping = (async () => {
      await cog.shutdown();
      await closeServer(server);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
      serverLog('stopped');
      resolveClosed();
      if (exit) process.exit(0);
    })();
    return stopping;
  }

  void cog.ready.then(() => {
    if (cog.service.isReady) serverLog((options.redis ?? settings.redisUrl) ? 'ready: in front of the queue' : 'ready');
    // Loading and setup are over: what they left (this isolate's grown young generation and
    // garbage, the C heap's freed pages) goes back now rather than 8-20 s later, unless
    // predictions come first (benches/startup: 78.9 -> 70 MiB 0.5 s after READY, worker thread).
    const runtimes = [cog.service.runtime('predict'), cog.service.runtime('train')].filter((runtime) => runtime !== undefined);
    let predicted = false;
    const unobserve = runtimes.map((runtime) => runtime.observe({ admitted: () => void (predicted = true) }));
    releaseWhenIdle(() => {
      for (const stop of unobserve) stop();
      return predicted || runtimes.some((runtime) => runtime.inFlight > 0);
    });
  });
  return { ...cog, shutdown: () => stop('shutdown()'), server, host, port, url, closed };
}

/** `cog-node serve`: serves the predictor (and trainer) named by `cwd`'s cog.yaml. */
export function serveFromConfig(options: ServeOptions & { cwd?: string } = {}): Promise<CogServer> {
  const { cwd = process.cwd(), ...rest } = options;
  return serve(cwd, rest);
}
