#!/usr/bin/env node
// Writes cog.schema.json, the JSON Schema of cog.yaml that editors use (`# yaml-language-server:
// $schema=node_modules/cog-node/cog.schema.json`, as `cog-node init` writes), from the TypeBox
// schema cog-node validates cog.yaml with (src/load/cog-yaml.ts), so the two never differ. Run by build:ts.
import { writeFileSync } from 'node:fs';
import { cogYamlSchema } from '../dist/load/cog-yaml.js';

const file = new URL('../cog.schema.json', import.meta.url);
writeFileSync(file, `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...cogYamlSchema }, null, 2)}\n`);
