// Cog's HTTP routes as a Hono app: `GET /`, `/health-check`, `/openapi.json`, `POST /shutdown`,
// the playground and the prediction and training routes (runs.ts), plus `/metrics` and the
// `/health/live` and `/health/ready` probes (src/observe/), all behind the cross-origin check.
import { Hono } from '../vendor/hono.js';
import { currentSettings, type Settings } from '../load/settings.js';
import { COG_API_VERSION } from '../version.js';
import { CogMetrics, metricsHandler } from '../observe/metrics.js';
import { registerProbes, serviceProbes, type ProbeSource } from '../observe/probes.js';
import { HealthReporter, type HealthReport } from './health.js';
import { serverLog } from './server-log.js';
import { crossOriginGuard } from './origin.js';
import { registerPlayground } from './playground/page.js';
import { registerRunRoutes, type RemoteRuns } from './runs.js';
import { registerFastPath } from './fast-path.js';
import type { CogService } from './service.js';

export interface AppOptions {
  /** `--upload-url`: output files are PUT to `<url>/<basename>`; default: data URIs. */
  uploadUrl?: string;
  /** Called after `POST /shutdown` has been answered (`serve()` stops the process). */
  onShutdown?: () => void;
  /** The settings the entry point read; default: the current ones. */
  settings?: Settings;
  /** The registry `GET /metrics` shows; default: a new one that watches the service's runtimes. */
  metrics?: CogMetrics;
  /**
   * Serve the routes in front of a queue instead of the service's runtimes (the gateway,
   * fleet/gateway.ts): predictions, health and the schema come from it.
   */
  remote?: RemoteFront;
}

/** What the routes ask of a queue they front: its predictions, its health, the declaration's schema. */
export interface RemoteFront {
  runs: RemoteRuns;
  health(): Promise<HealthReport>;
  /** `/health/live` and `/health/ready`: the queue's, not the (runtime-less) service's. */
  probes: ProbeSource;
  /** The OpenAPI document; undefined until the declaration has loaded. */
  schema(): Record<string, unknown> | undefined;
}

/** `GET /`: the endpoints, as Cog lists them. */
function discovery(service: CogService): Record<string, string> {
  const doc: Record<string, string> = {
    cog_version: COG_API_VERSION,
    docs_url: '/docs',
    openapi_url: '/openapi.json',
    shutdown_url: '/shutdown',
    healthcheck_url: '/health-check',
  };
  if (service.shape.predict) {
    Object.assign(doc, {
      predictions_url: '/predictions',
      predictions_idempotent_url: '/predictions/{prediction_id}',
      predictions_cancel_url: '/predictions/{prediction_id}/cancel',
    });
  }
  if (service.shape.train) {
    Object.assign(doc, {
      trainings_url: '/trainings',
      trainings_idempotent_url: '/trainings/{training_id}',
      trainings_cancel_url: '/trainings/{training_id}/cancel',
    });
  }
  return doc;
}

/** An error no route answered: logged, and answered 500 with Cog's failed body. */
function internalError(method: string, path: string, error: unknown): { status: 500; json: string } {
  const message = error instanceof Error ? error.message : String(error);
  serverLog(`${method} ${path} failed: ${error instanceof Error ? (error.stack ?? String(error)) : String(error)}`);
  return { status: 500, json: JSON.stringify({ error: `Internal server error: ${message}`, status: 'failed' }) };
}

/** Cog's HTTP API over a service, as a Hono app (mountable in another Hono or Node server). */
export function cogRoutes(service: CogService, options: AppOptions = {}): Hono {
  const app = new Hono();
  const settings = options.settings ?? currentSettings();
  const health = new HealthReporter(service, settings);
  const remote = options.remote;
  const runOptions = {
    uploadUrl: options.uploadUrl,
    throttleMs: settings.throttleInterval,
    webhookAuthToken: settings.webhookAuthToken,
    remote: remote?.runs,
  };

  // First: every route, `/shutdown` and cancel included, is behind the cross-origin check.
  app.use(crossOriginGuard(settings.corsOrigins));
  app.get('/', (c) => c.json(discovery(service)));
  app.get('/health-check', async (c) => c.json(await (remote?.health() ?? health.report())));
  registerProbes(app, remote?.probes ?? serviceProbes(service));
  let metrics = options.metrics;
  if (metrics === undefined) {
    const own = new CogMetrics();
    service.watchRuntimes((runtime) => own.watch(runtime));
    metrics = own;
  }
  // Behind the origin guard like every route: a page of another origin cannot read it.
  app.get('/metrics', metricsHandler(metrics));
  app.get('/openapi.json', (c) => {
    const schema = remote !== undefined ? remote.schema() : service.schema();
    return schema ? c.json(schema) : c.json({ error: 'OpenAPI schema not available' }, 503);
  });
  if (settings.playground) registerPlayground(app);
  if (service.shape.predict) {
    const { begin, parse } = registerRunRoutes(app, service, 'predict', runOptions);
    // `serve()` answers the plain `POST /predictions` with this same route code, and
    // `/health-check` with the same report (fast-path.ts).
    if (remote === undefined) registerFastPath(app, { begin, parse, health: () => health.report(), failed: internalError });
  }
  if (service.shape.train) registerRunRoutes(app, service, 'train', runOptions);
  app.post('/shutdown', (c) => {
    // Answer first; the stop begins once this response is on its way.
    if (options.onShutdown) setImmediate(options.onShutdown);
    else void service.shutdown();
    return c.json({});
  });
  app.notFound((c) => c.json({ detail: 'Not Found' }, 404));
  app.onError((error, c) => {
    const { status, json } = internalError(c.req.method, c.req.path, error);
    return c.body(json, status, { 'Content-Type': 'application/json' });
  });
  return app;
}
