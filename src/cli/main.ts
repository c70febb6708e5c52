// The `cog-node` command line: picks the command (init, predict/run, train, serve, worker, schema) and
// turns what it throws into an exit status: 2 for bad usage (with its help), 1 for the rest.
import { InputValidationError, PredictorLoadError, UsageError } from '../errors.js';
import { COG_NODE_VERSION } from '../version.js';
import './serve-first.js';
// Loaded at once, as before the commands became lazy: a missing addon or a second copy of cog-node
// fails every command, `--version` included, with the message bin/cog-node.js prints.
import '../native/addon.js';

const HELP = `Usage: cog-node <command> [options]

Cog's predictor framework for Node.js: run it in the folder that holds cog.yaml.

Commands:
  init       Write a working cog.yaml and predict.ts here
  predict    Run one prediction (-i name=value ...)
  train      Run the trainer once (-i name=value ...)
  serve      Serve Cog's HTTP prediction API
  worker     Take predictions from a Redis queue (BullMQ), for a fleet of workers
  schema     Print the OpenAPI document

Options:
  -h, --help      Show help (also: cog-node <command> --help)
  -v, --version   Show the version`;

/**
 * Each command's module is imported when it runs: `predict` then loads no server, `serve` no
 * `init` (measured: the four together cost a `predict` ~0.1 s of CPU before its own work).
 */
interface Command {
  run(args: string[]): Promise<number>;
  help(): string;
}
const commands: Record<string, () => Promise<Command>> = {
  init: async () => {
    const { initCommand, initHelp } = await import('./init.js');
    return { run: initCommand, help: () => initHelp };
  },
  predict: async () => {
    const { predictCommand, predictHelp } = await import('./predict.js');
    return { run: (args) => predictCommand(args, 'predict'), help: () => predictHelp('predict') };
  },
  train: async () => {
    const { predictCommand, predictHelp } = await import('./predict.js');
    return { run: (args) => predictCommand(args, 'train'), help: () => predictHelp('train') };
  },
  serve: async () => {
    const { serveCommand, serveHelp } = await import('./serve.js');
    return { run: serveCommand, help: () => serveHelp };
  },
  schema: async () => {
    const { schemaCommand, schemaHelp } = await import('./schema.js');
    return { run: schemaCommand, help: () => schemaHelp };
  },
  worker: async () => {
    const { workerCommand, workerHelp } = await import('./worker.js');
    return { run: workerCommand, help: () => workerHelp };
  },
};
// Cog 0.20 renamed `cog predict` to `cog run`; accept both.
commands.run = commands.predict!;

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    console.log(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === '-v' || name === '--version') {
    console.log(`cog-node ${COG_NODE_VERSION}`);
    return 0;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (load === undefined) {
    process.stderr.write(`cog-node: unknown command '${name}'\n\n${HELP}\n`);
    return 2;
  }
  const command = await load();
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`cog-node ${name}: ${error.message}\n\n${command.help()}\n`);
      return 2;
    }
    if (error instanceof InputValidationError) {
      process.stderr.write(
        `cog-node ${name}: invalid input\n${error.detail.map((issue) => `  ${issue.loc.slice(2).join('.') || 'input'}: ${issue.msg}`).join('\n')}\n`,
      );
      return 1;
    }
    if (error instanceof PredictorLoadError) {
      process.stderr.write(`cog-node ${name}: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`cog-node ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
