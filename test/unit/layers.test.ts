import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layers of the house, bottom up: a module may import its own layer and those below it,
 * never one above. This list is the definition (README.md, "Layout", shows it as a table).
 * bench/ and test/ stand outside: they use the house, and may import any of it.
 */
const LAYERS: ReadonlyArray<{ name: string; paths: readonly string[]; holds: string }> = [
  {
    name: 'contracts',
    paths: ['src/contracts/'],
    holds: 'what crosses the workflow sandbox or history: inputs and their parsing, results, windows, units; Node-free',
  },
  {
    name: 'foundations',
    paths: ['src/errors.ts', 'src/secrets.ts', 'src/json/'],
    holds: 'the error taxonomy, secret references, streaming JSON scanners',
  },
  { name: 'http', paths: ['src/http/'], holds: 'HTTP with credentials kept on their origin, host allow-lists' },
  { name: 'providers', paths: ['src/providers/'], holds: 'one folder per platform, its descriptor in the catalog' },
  { name: 'config', paths: ['src/config/'], holds: 'the configuration, its connections built from the provider catalog' },
  { name: 'stores', paths: ['src/storage/', 'src/provenance/'], holds: 'S3 and Postgres' },
  { name: 'transfer', paths: ['src/transfer/'], holds: 'one file from a provider into the store' },
  { name: 'client', paths: ['src/client/'], holds: 'starting, watching and scheduling workflows from outside' },
  { name: 'activities', paths: ['activities/', 'src/verify/'], holds: 'side effects, and the verifier' },
  { name: 'workflows', paths: ['workflows/'], holds: 'deterministic workflows: contracts, and activities by type only' },
  { name: 'worker', paths: ['src/worker/'], holds: 'the worker process' },
  { name: 'dev tools', paths: ['src/simulators/', 'src/devstack/'], holds: 'platform simulators and the embedded dev stack' },
  { name: 'demo', paths: ['src/demo/'], holds: '`callvault demo`' },
  { name: 'cli', paths: ['src/cli/'], holds: "the `callvault` command, which loads each command's code when it runs" },
];

const ROOT = join(__dirname, '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const FILES = ['src', 'activities', 'workflows'].flatMap(tsFiles);

function layerOf(file: string): number {
  const matches = LAYERS.map((layer, index) => ({
    index,
    length: Math.max(0, ...layer.paths.filter((p) => file === p || file.startsWith(p)).map((p) => p.length)),
  }));
  const best = matches.filter((m) => m.length > 0).sort((a, b) => b.length - a.length)[0];
  return best ? best.index : -1;
}

interface Import {
  /** As written. */
  specifier: string;
  /** The project file it names (relative imports only). */
  target: string | null;
  typeOnly: boolean;
  line: number;
}

/** Every import of a file: import and export declarations, `import type`, `typeof import()`, require() and import(). */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: Import[] = [];
  const add = (node: ts.Node, literal: ts.Expression | undefined, typeOnly: boolean) => {
    if (!literal || !ts.isStringLiteralLike(literal)) return;
    const specifier = literal.text;
    found.push({
      specifier,
      target: resolve(file, specifier),
      typeOnly,
      line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
    });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    else if (ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, true);
    else if (ts.isCallExpression(node)) {
      const callee = node.expression.getText(source);
      if (callee === 'require' || callee === 'require.resolve' || node.expression.kind === ts.SyntaxKind.ImportKeyword)
        add(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function resolve(file: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const base = normalize(join(dirname(file), specifier)).replace(/\.js$/, '');
  for (const candidate of [`${base}.ts`, `${base}/index.ts`]) if (FILES.includes(candidate)) return candidate;
  return `${base}/`; // a folder (require.resolve('../../workflows'))
}

const describeLayer = (index: number) => (index < 0 ? 'no layer' : `${LAYERS[index]!.name} (${index + 1})`);

describe('the layers of the house', () => {
  it('places every module of src/, activities/ and workflows/ on exactly one layer', () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(FILES.filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('has no import that runs up a layer', () => {
    const upward: string[] = [];
    for (const file of FILES) {
      for (const imp of importsOf(file)) {
        if (imp.target === null) continue;
        const from = layerOf(file);
        const to = layerOf(imp.target);
        if (to > from) upward.push(`${file}:${imp.line} imports ${imp.specifier}: ${describeLayer(from)} -> ${describeLayer(to)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('lets workflows/ import nothing under src/ but src/contracts/, and activities by type only', () => {
    const wrong: string[] = [];
    for (const file of FILES.filter((f) => f.startsWith('workflows/'))) {
      for (const imp of importsOf(file)) {
        const ok =
          (imp.target === null && imp.specifier.startsWith('@temporalio/')) ||
          imp.target?.startsWith('src/contracts/') === true ||
          imp.target?.startsWith('workflows/') === true ||
          (imp.target === 'activities/index.ts' && imp.typeOnly);
        if (!ok) wrong.push(`${file}:${imp.line} imports ${imp.specifier}${imp.typeOnly ? ' (type only)' : ''}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps src/contracts/ free of Node and of the rest of the house, so the workflow bundle can hold it', () => {
    const wrong: string[] = [];
    for (const file of FILES.filter((f) => f.startsWith('src/contracts/'))) {
      for (const imp of importsOf(file)) {
        const ok = imp.target?.startsWith('src/contracts/') === true || imp.specifier === '@temporalio/workflow';
        if (!ok) wrong.push(`${file}:${imp.line} imports ${imp.specifier}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("keeps SQL on provenance's tables in the provenance store", () => {
    // A query whose text names a callvault table (the dev stack's database administration and the
    // bench's pg_stat_* readings name none); SQL quoted in a message to people is not a query.
    const sql = /\.query(?:<[^>]*>)?\(\s*[`'"][^`'"]*\bcallvault\./;
    const outside = [...FILES, ...tsFiles('bench')].filter((f) => !f.startsWith('src/provenance/'));
    expect(outside.filter((f) => sql.test(readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
  });

  it('builds the configuration and the registry from the provider catalog: neither names a provider', () => {
    const shared = [
      ...tsFiles('src/config'),
      'src/providers/registry.ts',
      'src/providers/connection.ts',
      'src/providers/descriptor.ts',
      'src/providers/types.ts',
    ];
    const naming = shared.filter((f) => /['"](bird|dixa|kore)['"]/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(naming).toEqual([]);
    // The catalog is the one place that lists them.
    expect(readFileSync(join(ROOT, 'src/providers/catalog.ts'), 'utf8')).toMatch(/PROVIDERS = \[bird, dixa, kore\]/);
  });
});
