// README's TypeScript examples must compile against the package as users import it ('cog-node',
// 'cog-node/torch', resolved through package.json's exports to dist/): each ```ts block is written
// to a folder inside the package (named by its `// file.ts` first line, else readme-N.ts) and
// type-checked with the project's compiler options. Run after `npm run build:ts` (npm test does).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { settingRows } from '../src/load/settings.js';
import { ROOT } from './helpers/cli.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match, index) => {
  const code = match[1]!;
  const named = /^\/\/ ([\w.-]+\.ts)\n/.exec(code);
  return { file: named ? named[1]! : `readme-${index + 1}.ts`, code };
});
const dir = mkdtempSync(join(ROOT, '.readme-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("README's TypeScript examples", () => {
  it('are there to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    expect(new Set(blocks.map((block) => block.file)).size).toBe(blocks.length);
  });

  it('compile against the package, as a user imports it', () => {
    for (const block of blocks) writeFileSync(join(dir, block.file), block.code);
    const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
    const program = ts.createProgram(
      blocks.map((block) => join(dir, block.file)),
      { ...options, noEmit: true },
    );
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const where =
        diagnostic.file && diagnostic.start !== undefined
          ? `${diagnostic.file.fileName.slice(dir.length + 1)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1}: `
          : '';
      return where + ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    });
    expect(problems).toEqual([]);
  }, 180_000);

  it('list every environment variable the settings read, in the Environment table', () => {
    const table = readme.slice(readme.indexOf('### Environment'));
    const missing = Object.values(settingRows)
      .map((row) => row.name)
      .filter((name) => !table.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
  });
});
