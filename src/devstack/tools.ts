import fs from 'node:fs';
import path from 'node:path';

export type ToolName = 'temporal' | 'weed';

const ENV_OVERRIDE: Record<ToolName, string> = {
  temporal: 'CALLVAULT_TEMPORAL_BIN',
  weed: 'CALLVAULT_WEED_BIN',
};

let cachedRoot: string | undefined;

/**
 * The callvault checkout this file belongs to. Found by walking up from this file rather than
 * from process.cwd(), so it is the same whether we run as src/devstack/tools.ts (vitest) or as
 * dist/src/devstack/tools.js (compiled), and whatever directory the user started from.
 */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    if (isCallvaultPackage(path.join(dir, 'package.json'))) {
      cachedRoot = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the callvault repository root above ${__dirname}`);
    dir = parent;
  }
}

function isCallvaultPackage(file: string): boolean {
  try {
    const pkg: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    return typeof pkg === 'object' && pkg !== null && (pkg as { name?: unknown }).name === 'callvault';
  } catch {
    return false;
  }
}

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where setup.sh links the binary, or null when this code runs outside a checkout. */
function localToolPath(name: ToolName): string | null {
  try {
    return path.join(repoRoot(), '.tools', 'bin', name);
  } catch {
    return null;
  }
}

/**
 * Absolute path of a dev-stack binary: explicit env override, then the project-local copy that
 * `npm run setup` installs, then PATH. The project copy wins over PATH so tests run against the
 * pinned version even on machines with another one installed.
 */
export function findTool(name: ToolName): string {
  const envVar = ENV_OVERRIDE[name];
  const override = process.env[envVar];
  if (override) {
    const resolved = path.resolve(override);
    // An override that does not work is a configuration mistake; silently falling back would
    // test against a different binary than the one asked for.
    if (!isExecutableFile(resolved)) throw new Error(`${envVar}=${override} is not an executable file`);
    return resolved;
  }

  const local = localToolPath(name);
  if (local !== null && isExecutableFile(local)) return local;

  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }

  throw new Error(
    `cannot find the \`${name}\` binary (looked at $${envVar}, ${local ?? '.tools/bin'} and PATH); run \`npm run setup\` to install it`,
  );
}
