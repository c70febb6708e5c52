// cog-node's own version (from package.json), and the Cog HTTP API generation it speaks.
import { readFileSync } from 'node:fs';
import { packageFile } from './own-files.js';

/** This package's version. */
export const COG_NODE_VERSION: string = (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;

/** The Cog HTTP API generation cog-node speaks (reported as `cog_version` and in the schema). */
export const COG_API_VERSION = '0.22.0';
