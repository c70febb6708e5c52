// `GET /health-check`: Cog's health status (STARTING, READY, BUSY, SETUP_FAILED, UNHEALTHY,
// DEFUNCT), the user's `healthcheck()`, the versions, and Kubernetes' readiness file.
import { mkdir, writeFile } from 'node:fs/promises';
import type { Settings } from '../load/settings.js';
import { COG_NODE_VERSION, COG_API_VERSION } from '../version.js';
import type { CogService, SetupReport } from './service.js';

export type HealthStatus = 'STARTING' | 'READY' | 'BUSY' | 'SETUP_FAILED' | 'UNHEALTHY' | 'DEFUNCT';

/** Cog's `/health-check` body. */
export interface HealthReport {
  status: HealthStatus;
  setup: SetupReport;
  version: HealthVersion;
  /** The admission line: predictions waiting for a slot now, and how many may (`queue.max`; 0: none). */
  queue: { waiting: number; max: number };
  user_healthcheck_error?: string;
  /** With `concurrency.instances` > 1 only: the model instances, and how many take predictions now. */
  instances?: { count: number; ready: number };
}

/**
 * What runs: cog-node's and Node's versions, and the Cog HTTP API generation it implements.
 * No `coglet` field: Cog's playground shows `coglet <version>` when there is one, and its client
 * code treats every `version` field as optional (it reads `coglet`, `cog`, `python_sdk`, `python`).
 */
export interface HealthVersion {
  cog_node: string;
  node: string;
  cog_api: string;
}

type UserCheck = { healthy: boolean; error?: string };

const VERSION: HealthVersion = { cog_node: COG_NODE_VERSION, node: process.version, cog_api: COG_API_VERSION };

/**
 * Answers `/health-check`. The user's `healthcheck()` runs only once the predictor is ready
 * (busy included); health requests that arrive while one check runs share its result.
 */
export class HealthReporter {
  readonly #service: CogService;
  #check: Promise<UserCheck> | undefined;
  #readinessWritten = false;
  /** In Kubernetes (`KUBERNETES_SERVICE_HOST` set). */
  readonly #kubernetes: boolean;

  constructor(service: CogService, settings: Pick<Settings, 'kubernetes'>) {
    this.#service = service;
    this.#kubernetes = settings.kubernetes;
  }

  #userCheck(): Promise<UserCheck> {
    const runtime = this.#service.primary;
    if (runtime === undefined) return Promise.resolve({ healthy: true });
    this.#check ??= runtime.healthcheck().finally(() => {
      this.#check = undefined;
    });
    return this.#check;
  }

  async report(): Promise<HealthReport> {
    const service = this.#service;
    const setup = service.setup();
    const report: HealthReport = { status: 'STARTING', setup, version: VERSION, queue: this.#queue() };
    const instances = service.primary?.instances;
    if (instances !== undefined) report.instances = instances;
    if (service.defunct !== undefined) report.status = 'DEFUNCT';
    else if (setup.status === 'failed') report.status = 'SETUP_FAILED';
    // Shutting down: alive and finishing its work, but taking none (coglet's Health has no
    // state of its own for this; BUSY is the one that tells a router to send nothing new).
    else if (service.shuttingDown) report.status = 'BUSY';
    else if (setup.status === 'starting' || !service.isReady) report.status = 'STARTING';
    else {
      const check = await this.#userCheck();
      if (!check.healthy) {
        report.status = 'UNHEALTHY';
        report.user_healthcheck_error = check.error ?? 'Healthcheck failed';
      } else {
        report.status = service.primary?.slots.full ? 'BUSY' : 'READY';
        this.#markReadyForKubernetes();
      }
    }
    return report;
  }

  /** The primary runtime's line (before the runtime exists, a moment after start: none). */
  #queue(): { waiting: number; max: number } {
    return this.#service.primary?.queue ?? { waiting: 0, max: 0 };
  }

  /** In Kubernetes, Cog touches /var/run/cog/ready once ready (a readiness probe's file). */
  #markReadyForKubernetes(): void {
    if (this.#readinessWritten || !this.#kubernetes) return;
    this.#readinessWritten = true;
    void mkdir('/var/run/cog', { recursive: true })
      .then(() => writeFile('/var/run/cog/ready', ''))
      .catch(() => undefined);
  }
}
