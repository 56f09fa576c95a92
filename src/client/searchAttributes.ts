import type { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { CALLVAULT_SEARCH_ATTRIBUTES, type ExportSearchAttribute } from '../contracts/searchAttributes';
import { errorMessage } from '../contracts/failures';
import { ConfigurationError } from '../errors';

/**
 * The exports' custom search attributes on a namespace: checking them (the worker, at start) and
 * registering them (`callvault setup temporal`). Either connection serves: the CLI's Connection or
 * the worker's NativeConnection, both have the operator and workflow services.
 */
export type TemporalServices = Pick<Connection, 'operatorService' | 'workflowService'>;

export interface SearchAttributeCheck {
  namespace: string;
  missing: ExportSearchAttribute[];
  /** Registered under callvault's name with another type: upserts of callvault's values would fail. */
  wrongType: Array<{ attribute: ExportSearchAttribute; registeredAs: string }>;
}

/** gRPC status codes of a server that will not answer operator calls (Temporal Cloud's API keys, a restricted role). */
const NOT_ALLOWED = new Set([7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */]);
const INVALID_ARGUMENT = 3;

const grpcCode = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** `Keyword`, as the `temporal` CLI and the Cloud console spell the types. */
export function typeLabel(type: string): string {
  return type.charAt(0) + type.slice(1).toLowerCase();
}

/** Which of callvault's attributes the namespace lacks or has with another type. */
export async function checkSearchAttributes(services: TemporalServices, namespace: string): Promise<SearchAttributeCheck> {
  let registered: Record<string, number>;
  try {
    const res = await services.operatorService.listSearchAttributes({ namespace });
    registered = Object.fromEntries(Object.entries(res.customAttributes ?? {}).map(([k, v]) => [k, Number(v)]));
  } catch (err) {
    if (!NOT_ALLOWED.has(grpcCode(err) ?? -1)) throw err;
    return checkByQuery(services, namespace);
  }
  const check: SearchAttributeCheck = { namespace, missing: [], wrongType: [] };
  for (const attribute of CALLVAULT_SEARCH_ATTRIBUTES) {
    const have = registered[attribute.name];
    if (have === undefined) check.missing.push(attribute);
    else if (have !== Number(encodeSearchAttributeIndexedValueType(attribute.type)))
      check.wrongType.push({ attribute, registeredAs: indexedTypeName(have) });
  }
  return check;
}

/**
 * Where listing attributes is not allowed, a visibility query per attribute tells: the server
 * refuses a query that names an attribute it does not know (types cannot be seen this way).
 */
async function checkByQuery(services: TemporalServices, namespace: string): Promise<SearchAttributeCheck> {
  const check: SearchAttributeCheck = { namespace, missing: [], wrongType: [] };
  for (const attribute of CALLVAULT_SEARCH_ATTRIBUTES) {
    try {
      await services.workflowService.countWorkflowExecutions({ namespace, query: `${attribute.name} IS NOT NULL` });
    } catch (err) {
      if (grpcCode(err) !== INVALID_ARGUMENT) throw err;
      check.missing.push(attribute);
    }
  }
  return check;
}

function indexedTypeName(value: number): string {
  for (const type of ['TEXT', 'KEYWORD', 'INT', 'DOUBLE', 'BOOL', 'DATETIME', 'KEYWORD_LIST'] as const) {
    if (Number(encodeSearchAttributeIndexedValueType(type)) === value) return typeLabel(type);
  }
  return `type ${value}`;
}

export const isComplete = (check: SearchAttributeCheck): boolean => check.missing.length === 0 && check.wrongType.length === 0;

/** What is wrong and what to run, for the worker's refusal and `setup temporal --check`. */
export function searchAttributeProblem(check: SearchAttributeCheck): string {
  const parts: string[] = [];
  if (check.missing.length) parts.push(`lacks ${check.missing.map((a) => `${a.name} (${typeLabel(a.type)})`).join(', ')}`);
  for (const w of check.wrongType)
    parts.push(`has ${w.attribute.name} as ${w.registeredAs}, not ${typeLabel(w.attribute.type)} (remove it, then add it again)`);
  return (
    `Temporal namespace '${check.namespace}' ${parts.join('; ')}: the search attributes exports keep current for the Temporal UI, ` +
    `without which every export would hang on its first workflow task. Run \`callvault setup temporal\` once for this namespace ` +
    `(on Temporal Cloud, add them in the namespace's settings or with the \`tcld\` CLI; README, "Exports in the Temporal UI")`
  );
}

export interface Registered {
  added: ExportSearchAttribute[];
  present: ExportSearchAttribute[];
}

/**
 * Registers the attributes the namespace lacks, through the operator service (self-hosted
 * clusters and the dev server). Idempotent: present ones are left alone. Temporal Cloud does not
 * take this call; the error says what to do there.
 */
export async function registerSearchAttributes(services: TemporalServices, namespace: string): Promise<Registered> {
  const before = await checkSearchAttributes(services, namespace);
  if (before.wrongType.length > 0) throw new ConfigurationError(searchAttributeProblem({ ...before, missing: [] }));
  const missing = before.missing;
  if (missing.length > 0) {
    const searchAttributes = Object.fromEntries(missing.map((a) => [a.name, encodeSearchAttributeIndexedValueType(a.type)!]));
    try {
      await services.operatorService.addSearchAttributes({ namespace, searchAttributes });
    } catch (err) {
      if (!NOT_ALLOWED.has(grpcCode(err) ?? -1)) throw err;
      throw new ConfigurationError(
        `this Temporal server does not let callvault register search attributes (${errorMessage(err)}). On Temporal Cloud, add ` +
          `${missing.map((a) => `${a.name} (${typeLabel(a.type)})`).join(', ')} to namespace '${namespace}' in its settings, or with ` +
          `\`tcld namespace search-attributes add\`; elsewhere, run this with a role that may administer the namespace`,
      );
    }
  }
  return { added: missing, present: CALLVAULT_SEARCH_ATTRIBUTES.filter((a) => !missing.includes(a)) };
}
