/** The server's settings that come from the environment, read as Cog reads them. */

/** `PORT`, default 5000 (Cog's container port). */
export function portFromEnv(): number {
  const value = Number.parseInt(process.env.PORT ?? '', 10);
  return Number.isInteger(value) && value >= 0 && value < 65536 ? value : 5000;
}

/** `COG_THROTTLE_RESPONSE_INTERVAL` in seconds (default 0.5), as milliseconds. */
export function throttleIntervalFromEnv(): number {
  const value = Number.parseFloat(process.env.COG_THROTTLE_RESPONSE_INTERVAL ?? '');
  return Number.isFinite(value) && value >= 0 ? value * 1000 : 500;
}

/** `WEBHOOK_AUTH_TOKEN`: sent as `Authorization: Bearer <token>` with every webhook. */
export function webhookAuthToken(): string | undefined {
  const token = process.env.WEBHOOK_AUTH_TOKEN;
  return token === undefined || token === '' ? undefined : token;
}

/** `COG_CORS_ORIGINS`: origins whose browser pages may call the server (comma list, or `*`); default none. */
export function corsOriginsFromEnv(): '*' | ReadonlySet<string> {
  const value = (process.env.COG_CORS_ORIGINS ?? '').trim();
  if (value === '*') return '*';
  const origins = new Set<string>();
  for (const entry of value.split(',')) {
    const origin = entry.trim();
    if (origin === '') continue;
    // `https://Example.com:443/` and `https://example.com` are one origin, as browsers send it.
    try {
      origins.add(new URL(origin).origin);
    } catch {
      origins.add(origin);
    }
  }
  return origins;
}

/** `COG_SHUTDOWN_TIMEOUT` in seconds (default 30, Kubernetes' default grace), as milliseconds. */
export function shutdownTimeoutFromEnv(): number {
  const value = Number.parseFloat(process.env.COG_SHUTDOWN_TIMEOUT ?? '');
  return Number.isFinite(value) && value >= 0 ? value * 1000 : 30_000;
}
