import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Client, Connection } from '@temporalio/client';
import {
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ClientConfigTLS,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import { isTemporalAddress, TEMPORAL_ADDRESS_HINT, TEMPORAL_NAMESPACE, type CallvaultConfig } from '../config/schema';
import { ConfigurationError } from '../errors';
import { resolveSecret, type SecretRef } from '../secrets';

/**
 * How the worker and every CLI command reach Temporal, the way every Temporal tool does: the
 * standard TEMPORAL_* variables first, then the profile of a Temporal configuration file
 * (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE, else
 * `default`), then the callvault configuration's `temporal` section. Every setting says where it
 * came from, so a failure can name what was tried; no secret ever enters that description.
 */
export interface TemporalTarget {
  address: string;
  namespace: string;
  /** For NativeConnection.connect (the worker) and Connection.connect (the CLI) alike. */
  connectionOptions: ReturnType<typeof toClientOptions>['connectionOptions'] & { address: string };
  tls: boolean;
  /** Where the address came from: `TEMPORAL_ADDRESS`, a profile, or `temporal.address`. */
  addressFrom: string;
  /** Where the API key came from, if there is one. */
  apiKeyFrom: string | null;
  /** TLS is on only because an API key is set (as every Temporal tool does it). */
  tlsImpliedByApiKey: boolean;
  /** Address, namespace, TLS material and API key by where they came from; never a value. */
  description: string;
}

interface Found<T> {
  value: T;
  from: string;
}

/** The three places a setting may come from, most specific first. */
interface Layers {
  env: ClientConfigProfile;
  profile: ClientConfigProfile;
  /** `profile 'default' in /home/x/.config/temporalio/temporal.toml` */
  profileLabel: string;
  config: CallvaultConfig['temporal'];
}

const ENV_NAMES = {
  clientCert: 'TEMPORAL_TLS_CLIENT_CERT',
  clientKey: 'TEMPORAL_TLS_CLIENT_KEY',
  serverCACert: 'TEMPORAL_TLS_SERVER_CA_CERT',
} as const;
const TOML_NAMES = { clientCert: 'client_cert', clientKey: 'client_key', serverCACert: 'server_ca_cert' } as const;
type Material = keyof typeof ENV_NAMES;

export function resolveTemporalTarget(config: CallvaultConfig, env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const layers = loadLayers(config, env);
  const address = pick<string>(
    [layers.env.address, '$TEMPORAL_ADDRESS'],
    [layers.profile.address, `address of ${layers.profileLabel}`],
    [config.temporal.address, 'temporal.address'],
  )!;
  if (!isTemporalAddress(address.value)) throw new ConfigurationError(`${address.from}: ${TEMPORAL_ADDRESS_HINT}`);
  const namespace = pick<string>(
    [layers.env.namespace, '$TEMPORAL_NAMESPACE'],
    [layers.profile.namespace, `namespace of ${layers.profileLabel}`],
    [config.temporal.namespace, 'temporal.namespace'],
  )!;
  if (!TEMPORAL_NAMESPACE.test(namespace.value))
    throw new ConfigurationError(`${namespace.from}: a Temporal namespace: letters, digits, dots, dashes and underscores`);
  const apiKey = pick<string>(
    [layers.env.apiKey, '$TEMPORAL_API_KEY'],
    [layers.profile.apiKey, `api_key of ${layers.profileLabel}`],
    [
      config.temporal.apiKey && resolveSecret(config.temporal.apiKey, 'temporal.apiKey', env),
      secretLabel('temporal.apiKey', config.temporal.apiKey),
    ],
  );
  const tls = resolveTls(layers, env, apiKey !== undefined);
  const grpcMeta = { ...layers.profile.grpcMeta, ...layers.env.grpcMeta };
  const metaKeys = Object.keys(grpcMeta);
  const merged: ClientConfigProfile = {
    address: address.value,
    namespace: namespace.value,
    ...(apiKey ? { apiKey: apiKey.value } : {}),
    ...(tls.config ? { tls: tls.config } : {}),
    ...(metaKeys.length ? { grpcMeta } : {}),
  };
  const { connectionOptions } = toClientOptions(merged);
  const description = [
    `${address.value} (from ${address.from})`,
    `namespace ${namespace.value} (from ${namespace.from})`,
    tls.description,
    ...(apiKey ? [`API key from ${apiKey.from}`] : []),
    ...(metaKeys.length ? [`gRPC metadata ${metaKeys.join(', ')}`] : []),
  ].join(', ');
  return {
    address: address.value,
    namespace: namespace.value,
    connectionOptions: { ...connectionOptions, address: address.value },
    tls: tls.on,
    addressFrom: address.from.replace(/^\$/, ''),
    apiKeyFrom: apiKey?.from ?? null,
    tlsImpliedByApiKey: tls.impliedByApiKey,
    description,
  };
}

function pick<T>(...candidates: Array<[value: T | undefined | null | '', from: string]>): Found<T> | undefined {
  for (const [value, from] of candidates) if (value !== undefined && value !== null && value !== '') return { value, from };
  return undefined;
}

function secretLabel(field: string, ref: SecretRef | undefined): string {
  if (!ref) return field;
  return 'env' in ref ? `${field} ($${ref.env})` : `${field} (${ref.file})`;
}

/** The standard variables, and the profile file, each alone, so every setting can say where it came from. */
function loadLayers(config: CallvaultConfig, env: NodeJS.ProcessEnv): Layers {
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  const file = vars.TEMPORAL_CONFIG_FILE ?? defaultProfileFile(vars);
  const name = vars.TEMPORAL_PROFILE ?? 'default';
  const profileLabel = `profile '${name}' in ${file ?? 'the Temporal configuration file'}`;
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ disableEnv: true, overrideEnvVars: vars });
  } catch (err) {
    const why = (err as Error).message;
    if (/Profile '.*' not found/.test(why)) {
      throw new ConfigurationError(
        `TEMPORAL_PROFILE: no profile '${name}' in ${file ?? 'any Temporal configuration file'}${file && !existsSync(file) ? ' (the file does not exist)' : ''}`,
      );
    }
    throw new ConfigurationError(
      `${vars.TEMPORAL_CONFIG_FILE ? 'TEMPORAL_CONFIG_FILE ' : ''}${file}: not a usable Temporal configuration file: ${why}`,
    );
  }
  return { env: loadClientConfigProfile({ disableFile: true, overrideEnvVars: vars }), profile, profileLabel, config: config.temporal };
}

/** Where every Temporal tool looks for its profiles when TEMPORAL_CONFIG_FILE is not set (Linux and macOS). */
function defaultProfileFile(vars: Record<string, string>): string | undefined {
  if (process.platform === 'darwin')
    return vars.HOME ? join(vars.HOME, 'Library', 'Application Support', 'temporalio', 'temporal.toml') : undefined;
  const xdg = vars.XDG_CONFIG_HOME;
  const base = xdg ? (xdg.startsWith('/') ? xdg : undefined) : vars.HOME ? join(vars.HOME, '.config') : undefined;
  return base ? join(base, 'temporalio', 'temporal.toml') : undefined;
}

interface ResolvedTls {
  on: boolean;
  impliedByApiKey: boolean;
  /** For envconfig's toClientOptions: PEM data already read, or `disabled`. */
  config: ClientConfigTLS | undefined;
  description: string;
}

/**
 * TLS on or off, and its material. Explicit words win (TEMPORAL_TLS, the profile's `disabled`,
 * `temporal.tls: true|false`); otherwise any TLS setting turns it on, and so does an API key on its
 * own. A certificate without its key (or the reverse) is refused: envconfig drops it silently.
 */
function resolveTls(layers: Layers, env: NodeJS.ProcessEnv, hasApiKey: boolean): ResolvedTls {
  const fromConfig = layers.config.tls;
  const explicit = pick<boolean>(
    [env.TEMPORAL_TLS ? layers.env.tls?.disabled !== true : undefined, '$TEMPORAL_TLS'],
    [layers.profile.tls?.disabled === undefined ? undefined : !layers.profile.tls.disabled, `tls.disabled of ${layers.profileLabel}`],
    [typeof fromConfig === 'boolean' ? fromConfig : undefined, 'temporal.tls'],
  );
  if (explicit?.value === false)
    return { on: false, impliedByApiKey: false, config: { disabled: true }, description: `plaintext (TLS off by ${explicit.from})` };
  const material = (['serverCACert', 'clientCert', 'clientKey'] as const).map((m) => [m, tlsMaterial(m, layers, env)] as const);
  const found = Object.fromEntries(material.filter(([, f]) => f !== undefined)) as Partial<Record<Material, Found<Uint8Array>>>;
  const serverName = pick<string>(
    [layers.env.tls?.serverName, '$TEMPORAL_TLS_SERVER_NAME'],
    [layers.profile.tls?.serverName, `tls.server_name of ${layers.profileLabel}`],
    [typeof fromConfig === 'object' ? fromConfig.serverName : undefined, 'temporal.tls.serverName'],
  );
  if ((found.clientCert === undefined) !== (found.clientKey === undefined)) {
    const [has, lacks] = found.clientCert ? [found.clientCert, 'key'] : [found.clientKey!, 'certificate'];
    throw new ConfigurationError(
      `${has.from}: a TLS client ${lacks === 'key' ? 'certificate' : 'key'} without its ${lacks} is refused (mutual TLS needs both): ` +
        `set ${ENV_NAMES[lacks === 'key' ? 'clientKey' : 'clientCert']}_PATH (or _DATA), ${TOML_NAMES[lacks === 'key' ? 'clientKey' : 'clientCert']}_path in the profile, or temporal.tls.${lacks === 'key' ? 'clientKey' : 'clientCertPath'}`,
    );
  }
  const configured = Object.keys(found).length > 0 || serverName !== undefined || typeof fromConfig === 'object';
  if (!explicit && !configured && !hasApiKey)
    return { on: false, impliedByApiKey: false, config: undefined, description: 'plaintext (no TLS setting)' };
  const impliedByApiKey = !explicit && !configured;
  const parts = [
    found.serverCACert ? `server CA ${found.serverCACert.from}` : "the system's trusted roots",
    ...(found.clientCert ? [`client certificate ${found.clientCert.from}`] : []),
    ...(serverName ? [`server name ${serverName.value} (${serverName.from})`] : []),
  ];
  const why = impliedByApiKey
    ? 'TLS (on because an API key is set; TEMPORAL_TLS=false for a server without TLS)'
    : `TLS${explicit ? ` (on by ${explicit.from})` : ''}`;
  const data = (f: Found<Uint8Array> | undefined): ConfigDataSource | undefined => (f ? { data: f.value } : undefined);
  return {
    on: true,
    impliedByApiKey,
    // Left to envconfig when only the API key asks for TLS: it says `true`, the system's roots.
    config: impliedByApiKey
      ? undefined
      : {
          serverName: serverName?.value,
          serverCACert: data(found.serverCACert),
          clientCert: data(found.clientCert),
          clientKey: data(found.clientKey),
        },
    description: `${why} with ${parts.join(', ')}`,
  };
}

/** One PEM (server CA, client certificate or key), read now, from the first place that names it. */
function tlsMaterial(which: Material, layers: Layers, env: NodeJS.ProcessEnv): Found<Uint8Array> | undefined {
  const fromEnv = given(layers.env.tls?.[which]);
  if (fromEnv) return readSource(fromEnv, 'path' in fromEnv ? `$${ENV_NAMES[which]}_PATH (${fromEnv.path})` : `$${ENV_NAMES[which]}_DATA`);
  const fromProfile = given(layers.profile.tls?.[which]);
  if (fromProfile) {
    const field = 'path' in fromProfile ? `tls.${TOML_NAMES[which]}_path (${fromProfile.path})` : `tls.${TOML_NAMES[which]}_data`;
    return readSource(fromProfile, `${field} of ${layers.profileLabel}`);
  }
  const tls = layers.config.tls;
  if (typeof tls !== 'object') return undefined;
  if (which === 'clientKey')
    return tls.clientKey
      ? {
          value: Buffer.from(resolveSecret(tls.clientKey, 'temporal.tls.clientKey', env)),
          from: secretLabel('temporal.tls.clientKey', tls.clientKey),
        }
      : undefined;
  const path = which === 'clientCert' ? tls.clientCertPath : tls.serverCaCertPath;
  const field = which === 'clientCert' ? 'temporal.tls.clientCertPath' : 'temporal.tls.serverCaCertPath';
  return path ? readSource({ path }, `${field} (${path})`) : undefined;
}

/** A variable set to nothing (`TEMPORAL_TLS_CLIENT_CERT_PATH=`) says nothing, as for every other setting. */
function given(source: ConfigDataSource | undefined): ConfigDataSource | undefined {
  if (!source) return undefined;
  return ('path' in source ? source.path : source.data.length) ? source : undefined;
}

function readSource(source: ConfigDataSource, from: string): Found<Uint8Array> {
  if (!('path' in source)) return { value: typeof source.data === 'string' ? Buffer.from(source.data) : source.data, from };
  try {
    return { value: readFileSync(source.path), from };
  } catch (err) {
    throw new ConfigurationError(
      `${from.replace(/^\$/, '')}: cannot read ${source.path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** The messages of an error and its causes, each once: grpc-js puts the real reason in `cause`. */
export function causeChain(err: unknown): string {
  const seen: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const message = e instanceof Error ? e.message : String(e);
    const first = message.split('\n')[0]!.trim();
    if (first && !seen.some((s) => s.includes(first))) seen.push(first);
  }
  return seen.join(': ') || 'unknown error';
}

const AUTH_REFUSED = /UNAUTHENTICATED|valid authentication credentials|PERMISSION_DENIED|permission denied|API key/i;
const TLS_REFUSED = /certificate|UnknownIssuer|NotValidForName|handshake|tls|ssl|received fatal alert|invalid peer/i;

/** Whether Temporal (or something in front of it) refused us: waiting will not help, a setting is wrong. */
export function isTemporalRefusal(err: unknown): boolean {
  const text = causeChain(err);
  return AUTH_REFUSED.test(text) || TLS_REFUSED.test(text);
}

/** The error a failed connection becomes: what was tried, the real cause, and what to check. */
export function connectionFailure(target: TemporalTarget, err: unknown): ConfigurationError {
  const causes = causeChain(err);
  const hints: string[] = [];
  if (AUTH_REFUSED.test(causes))
    hints.push(
      target.apiKeyFrom
        ? `the server refused the API key from ${target.apiKeyFrom}`
        : 'the server wants credentials: set TEMPORAL_API_KEY, or a client certificate',
    );
  else if (TLS_REFUSED.test(causes))
    hints.push(
      'the TLS handshake failed: check the server CA, the server name and the client certificate (a server that requires mutual TLS refuses a connection without one)',
    );
  else if (target.tls && /deadline|timed? ?out/i.test(causes))
    hints.push('over TLS, a refused handshake shows only as this timeout: check the server CA, the server name and the client certificate');
  if (target.tlsImpliedByApiKey && !AUTH_REFUSED.test(causes))
    hints.push('TLS is on because an API key is set; set TEMPORAL_TLS=false for a server without TLS');
  return new ConfigurationError(
    `${target.addressFrom}: cannot connect to Temporal at ${target.address} (${causes}); check the address (or TEMPORAL_ADDRESS) and that the server is up` +
      `${hints.length ? `; ${hints.join('; ')}` : ''}. Tried: ${target.description}`,
  );
}

/**
 * A failed connection's error, with what the TLS handshake itself runs into when TLS is on: grpc-js
 * says only "Failed to connect before the deadline", and the worker's core, racing the server's
 * alert, sometimes only "broken pipe" or "connection closed". Unchanged when the handshake succeeds.
 */
export async function withHandshakeProblem(target: TemporalTarget, err: unknown): Promise<unknown> {
  if (!target.tls || AUTH_REFUSED.test(causeChain(err))) return err;
  const problem = await tlsHandshakeProblem(target);
  return problem ? new Error(`${causeChain(err)}: TLS handshake: ${problem}`) : err;
}

/** What a TLS handshake with these settings runs into, or null when it succeeds (or the server is not there at all). */
export function tlsHandshakeProblem(target: TemporalTarget, timeoutMs = 3_000): Promise<string | null> {
  const tls = (typeof target.connectionOptions.tls === 'object' && target.connectionOptions.tls) || {};
  const at = target.address.lastIndexOf(':');
  const host = target.address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port: Number(target.address.slice(at + 1)),
      servername: tls.serverNameOverride ?? (/^[\d.:]+$/.test(host) ? undefined : host),
      ALPNProtocols: ['h2'],
      ...(tls.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
      ...(tls.clientCertPair ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) } : {}),
    });
    const done = (problem: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    // With TLS 1.3 a server that wants a client certificate says so just after the handshake.
    socket.once('secureConnect', () => setTimeout(() => done(null), 300));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH/.test(err.code ?? '') ? null : err.message),
    );
  });
}

export interface Connected {
  client: Client;
  close(): Promise<void>;
}

/** Connects the CLI (and data-platform code) to Temporal; a failure names the address, the TLS settings and the real cause. */
export async function connectClient(config: CallvaultConfig, env: NodeJS.ProcessEnv = process.env): Promise<Connected> {
  const target = resolveTemporalTarget(config, env);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: '10 seconds' });
  } catch (err) {
    throw connectionFailure(target, await withHandshakeProblem(target, err));
  }
  return { client: new Client({ connection, namespace: target.namespace }), close: () => connection.close() };
}
