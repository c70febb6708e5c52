// Cog's HTTP prediction API over a predictor: `serve()` a process, or `createApp()` to mount.
export { createApp, serve, serveFromConfig, type AppSettings, type CogApp, type CogServer, type ServeOptions } from './serve.js';
export type { ServeSource, Runnable, RuntimeSettings } from './source.js';
export type { CogService } from './service.js';
export type { HealthReport, HealthStatus, HealthVersion } from './health.js';
