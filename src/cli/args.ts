// The flag parsing shared by cog-node's commands: each command's flags plus `-h/--help`, and
// `-e NAME=value` pairs. A mistake is a UsageError (main.ts answers it: exit 2, with the help).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

type Config<O> = { args: string[]; options: O & typeof HELP; strict: true; allowPositionals: false };

/** Parses a command's flags (plus `-h/--help`); a mistake is a `UsageError`. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
): ReturnType<typeof parseArgs<Config<O>>> {
  try {
    return parseArgs<Config<O>>({ args, options: { ...options, ...HELP }, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `-e NAME=value` pairs. */
export function envPairs(pairs: string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`-e expects NAME=value, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** A `--port` value: a port number (0 picks a free one), else a usage error naming the flag. */
export function portOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a port number, got ${JSON.stringify(value)}`);
  return port;
}
