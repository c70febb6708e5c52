#!/usr/bin/env node
// The `cog-node` command: the compiled CLI in dist/ (built by `npm install` in a clone).
import { main } from '../dist/cli/main.js';

// Exit explicitly: a predictor may leave timers or threads running after its prediction.
process.exit(await main(process.argv.slice(2)));
