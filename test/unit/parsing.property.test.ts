import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wholeNumberArg } from '../../src/cli/args';
import { parseConfig } from '../../src/config/load';
import { CONNECTION_NAME, SCHEDULE_ID, textProblem } from '../../src/contracts/names';
import { ConfigurationError } from '../../src/errors';
import { serviceUrlProblem } from '../../src/http/hosts';
import { InvalidExportInput, MAX_WINDOW_DAYS, OPTION_RULES, TRIGGER_KINDS, parseExportInput } from '../../src/contracts/exportInput';
import { InvalidTriggerInput } from '../../src/contracts/triggerInput';
import { parseRetentionSweepInput } from '../../src/contracts/retentionSweep';
import { parseScheduledExportInput } from '../../src/contracts/scheduledExport';
import { DAY, MINUTE } from '../../src/contracts/units';
import { DELAY_BOUNDS, EVERY_BOUNDS, InvalidCadence, parseDuration } from '../../src/contracts/durations';
import { EARLIEST_INSTANT, LATEST_INSTANT, readInstant } from '../../src/contracts/instants';
import { cronFireAfter, parseCron } from '../../src/contracts/cron';
import { parseCadence, windowForRun } from '../../src/contracts/cadence';

/**
 * The parsing layer under random and adversarial input (issue 11): whatever arrives, a parser
 * returns a value that obeys every rule, or throws its own error naming the field; never a
 * TypeError, never a value the rules refuse. Generators aim at the edges: calendar edges and
 * impossible dates, offsets, byte order marks, NUL and other controls, unpaired surrogates,
 * prototype names, huge and non-decimal numbers, URLs that point at metadata services in every
 * spelling the URL parser normalizes, and nested junk of every JavaScript type.
 */

const RUNS = { numRuns: 400 };
/** Inputs a property must see accepted, and refused, at the least. */
const MIN_EACH_WAY = 50;

// --- generators --------------------------------------------------------------------------------

const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'prototype',
  'isPrototypeOf',
  '__defineGetter__',
  'then',
];
const NASTY_CHARS = [
  '\u0000',
  '\n',
  '\r',
  '\t',
  '\u0007',
  '\u007f',
  '\u0085',
  '\u2028',
  '\u202e',
  '\u2066',
  '\ufeff',
  '\ud800',
  '\udfff',
  '😀',
  'é',
  'e\u0301',
  '１',
  'Ⅻ',
  ' ',
  '/',
  '.',
  '..',
  ':',
  '%00',
  "'",
  '"',
  '\\',
];

const goodName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);
const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(...PROTOTYPE_NAMES),
  fc.array(fc.constantFrom(...NASTY_CHARS, 'a', 'b', '-', '0', '9'), { maxLength: 16 }).map((a) => a.join('')),
  goodName.map((n) => `\uFEFF${n}`),
  goodName.map((n) => `${n}\u0000`),
  fc.string({ minLength: 300, maxLength: 3000 }),
);
const junk = fc.anything({
  maxDepth: 3,
  withNullPrototype: true,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withDate: true,
  withTypedArray: true,
  withSparseArray: true,
  withBigInt: true,
  withObjectString: true,
});
const numberish = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1, -1, 1e15, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, Number.NaN, Infinity, -Infinity, 2.5, 0.1),
  fc.constantFrom('0x10', '16', '1e3', ' 5', '', 'NaN'),
);

const pad = (n: number, w: number) => String(n).padStart(w, '0');

interface DateParts {
  y: number;
  m: number;
  d: number;
  time: { h: number; mi: number; s: number | null; frac: string | null; zone: string | null } | null;
  sep: 'T' | ' ';
}

const offsets = fc.oneof(
  fc.constantFrom('Z', '+00:00', '-00:00', '+14:00', '+14:01', '-12:00', '+23:59', '-24:00', '+05:60', '+0530', '+05'),
  fc
    .tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 61 }))
    .map(([s, h, m]) => `${s}${pad(h, 2)}:${pad(m, 2)}`),
);
const dateParts: fc.Arbitrary<DateParts> = fc.record({
  y: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1999, 2000, 2027, 2028, 2099, 2100, 2101)),
  m: fc.integer({ min: 0, max: 13 }),
  d: fc.oneof(fc.integer({ min: 0, max: 32 }), fc.constantFrom(28, 29, 30, 31)),
  time: fc.option(
    fc.record({
      h: fc.integer({ min: 0, max: 25 }),
      mi: fc.integer({ min: 0, max: 61 }),
      s: fc.option(fc.integer({ min: 0, max: 61 })),
      frac: fc.option(fc.stringMatching(/^\d{1,4}$/)),
      zone: fc.option(offsets),
    }),
  ),
  sep: fc.constantFrom('T' as const, ' ' as const),
});

function renderDate(p: DateParts): string {
  const date = `${pad(p.y, 4)}-${pad(p.m, 2)}-${pad(p.d, 2)}`;
  if (!p.time) return date;
  const t = p.time;
  const seconds = t.s === null ? '' : `:${pad(t.s, 2)}${t.frac === null ? '' : `.${t.frac}`}`;
  return `${date}${p.sep}${pad(t.h, 2)}:${pad(t.mi, 2)}${seconds}${t.zone ?? ''}`;
}

/** An independent reading of the date rules: Date.UTC round trips for the calendar, arithmetic for the rest. */
function expectedInstant(p: DateParts): number | undefined {
  if (p.y < 2000 || p.y > 2100 || p.m < 1 || p.m > 12 || p.d < 1) return undefined;
  const day = new Date(Date.UTC(p.y, p.m - 1, p.d));
  if (day.getUTCMonth() !== p.m - 1) return undefined; // rolled over: not a day of that month
  if (!p.time) return day.getTime();
  const t = p.time;
  if (t.h > 23 || t.mi > 59 || (t.s ?? 0) > 59 || (t.s !== null && t.frac !== null && t.frac.length > 3)) return undefined;
  let offset = 0;
  if (t.zone !== null && t.zone !== 'Z') {
    const m = /^([+-])(\d{2}):?(\d{2})$/.exec(t.zone);
    if (!m || Number(m[3]) > 59) return undefined;
    offset = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
    if (Math.abs(offset) > 14 * 60) return undefined;
  }
  const fraction = t.s === null ? 0 : Number((t.frac ?? '').padEnd(3, '0')); // rendered only after seconds
  const ms = day.getTime() + ((t.h * 60 + t.mi - offset) * 60 + (t.s ?? 0)) * 1000 + fraction;
  return ms >= Date.UTC(2000, 0, 1) && ms < Date.UTC(2101, 0, 1) ? ms : undefined;
}

const dateString = fc.oneof(
  { weight: 4, arbitrary: dateParts.map(renderDate) },
  { weight: 1, arbitrary: nastyString },
  { weight: 1, arbitrary: dateParts.map((p) => `\uFEFF${renderDate(p)}`) },
);

/** Adds junk keys (own `__proto__` included, as JSON.parse makes them) to an object. */
function withJunkKeys(base: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc
    .tuple(base, fc.dictionary(fc.oneof(nastyString, fc.constantFrom(...PROTOTYPE_NAMES)), fc.jsonValue(), { maxKeys: 3 }), fc.boolean())
    .map(([b, extra, viaJson]) => {
      const merged = { ...b };
      for (const [k, v] of Object.entries(extra))
        Object.defineProperty(merged, k, { value: v, enumerable: true, configurable: true, writable: true });
      if (!viaJson) return merged;
      try {
        return JSON.parse(JSON.stringify(merged) ?? 'null') as unknown;
      } catch {
        return merged; // a BigInt somewhere: JSON cannot carry it, the object itself still goes in
      }
    });
}

/** Inputs as anyone may send them: mostly mutated valid ones, some with junk keys, some junk of any type. */
function asSent(input: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 5, arbitrary: input }, { weight: 2, arbitrary: withJunkKeys(input) }, { weight: 1, arbitrary: junk });
}

const DELETE = Symbol('delete');

/**
 * A valid value with up to two fields replaced by hostile ones (or removed): most runs then probe
 * one rule at a time, and some stay valid, so both the refusals and the invariants of what is
 * accepted get exercised.
 */
function mutated(
  valid: fc.Arbitrary<Record<string, unknown>>,
  hostile: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(hostile);
  const change = fc.oneof(
    { weight: 4, arbitrary: fc.oneof(...keys.map((k) => hostile[k]!.map((v): [string, unknown] => [k, v]))) },
    { weight: 1, arbitrary: fc.constantFrom(...keys).map((k): [string, unknown] => [k, DELETE]) },
  );
  return fc.tuple(valid, fc.array(change, { maxLength: 2 })).map(([base, changes]) => {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of changes) {
      if (v === DELETE) delete out[k];
      else out[k] = v;
    }
    return out;
  });
}

/** Instants callvault accepts, written as UTC, with an offset, or as a plain date. */
const validInstantMs = fc.integer({ min: EARLIEST_INSTANT, max: LATEST_INSTANT - DAY });
function renderInstant(ms: number, style: 'iso' | 'date' | number): string {
  if (style === 'iso') return new Date(ms).toISOString();
  if (style === 'date') return new Date(ms).toISOString().slice(0, 10);
  const local = new Date(ms + style * MINUTE).toISOString().slice(0, 23);
  return `${local}${style < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(style) / 60), 2)}:${pad(Math.abs(style) % 60, 2)}`;
}
const instantStyle = fc.oneof(
  fc.constantFrom('iso' as const, 'date' as const),
  fc.integer({ min: -12 * 4, max: 14 * 4 }).map((q) => q * 15),
);
const validInstant = fc.tuple(validInstantMs, instantStyle).map(([ms, style]) => renderInstant(ms, style));
const goodText = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 60 }).filter((t) => textProblem(t, 200) === undefined);
const validOptions = fc.record(
  Object.fromEntries(
    Object.entries(OPTION_RULES).map(([k, r]) => [
      k,
      r.integer ? fc.integer({ min: r.min, max: r.max }) : fc.double({ min: r.min, max: r.max, noNaN: true }),
    ]),
  ),
  { requiredKeys: [] },
);
const hostileOptions = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom(...Object.keys(OPTION_RULES)), fc.constantFrom(...PROTOTYPE_NAMES)), numberish, { maxKeys: 4 }),
  junk,
);
const hostileName = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), nastyString, junk);

// --- what an error must look like --------------------------------------------------------------

/** `<prefix><path>: <problem>`: the path a known field (or `input`), or a quoted unknown key. */
function expectFieldError(err: unknown, type: new (...args: never[]) => Error, prefix: string, fields: readonly string[]): void {
  if (!(err instanceof type)) throw new Error(`expected ${type.name}, got ${String(err)}`);
  expect(err.message.startsWith(prefix)).toBe(true);
  const first = err.message.slice(prefix.length);
  const head = /^(input|carried|[A-Za-z0-9_$-]+|'.*?')[.:]/.exec(first)?.[1];
  expect(
    head !== undefined && (head === 'input' || head.startsWith("'") || fields.includes(head) || /^[A-Za-z0-9_$-]+$/.test(head)),
    first.slice(0, 80),
  ).toBe(true);
  expect(err.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  expect(err.message.length).toBeLessThan(4000);
}

/** How many inputs a property saw accepted and refused: both must be many, or the property proves little. */
const tally = { accepted: 0, refused: 0 };

function attempt<T>(parse: () => T): { value: T } | { error: unknown } {
  try {
    const value = parse();
    tally.accepted++;
    return { value };
  } catch (error) {
    tally.refused++;
    return { error };
  }
}

/** After a property: it must have seen at least `min` inputs accepted and `min` refused, or it proves little. */
function expectBothWays(min: number): void {
  const seen = { ...tally };
  tally.accepted = 0;
  tally.refused = 0;
  console.log(`${expect.getState().currentTestName ?? 'property'}: ${seen.accepted} accepted, ${seen.refused} refused`);
  expect(seen.accepted, 'inputs accepted').toBeGreaterThanOrEqual(min);
  expect(seen.refused, 'inputs refused').toBeGreaterThanOrEqual(min);
}

// --- properties --------------------------------------------------------------------------------

describe('instants', () => {
  it('accept exactly the calendar-valid dates and date-times of 2000-2100, at the instant they mean', () => {
    fc.assert(
      fc.property(dateParts, (p) => {
        const read = readInstant(renderDate(p));
        const expected = expectedInstant(p);
        if (expected === undefined) expect('problem' in read, renderDate(p)).toBe(true);
        else expect(read, renderDate(p)).toEqual({ ms: expected });
      }),
      { numRuns: 3000 },
    );
  });

  it('never throw, whatever they are given', () => {
    fc.assert(
      fc.property(fc.oneof(nastyString, junk), (v) => {
        const read = readInstant(v);
        if ('ms' in read) expect(read.ms >= EARLIEST_INSTANT && read.ms <= LATEST_INSTANT).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('the export input', () => {
  const KNOWN = ['connection', 'from', 'to', 'trigger', 'options'];
  const window = fc
    .tuple(validInstantMs, fc.integer({ min: 1, max: MAX_WINDOW_DAYS * DAY + DAY }), instantStyle, instantStyle)
    .map(([from, length, a, b]) => ({
      from: renderInstant(from, a),
      to: renderInstant(Math.min(from + length, LATEST_INSTANT), b),
    }));
  const valid = fc
    .record({
      connection: goodName,
      window,
      trigger: fc.option(fc.record({ kind: fc.constantFrom(...TRIGGER_KINDS), by: goodText }, { requiredKeys: ['kind'] })),
      options: fc.option(validOptions),
    })
    .map(({ connection, window: w, trigger, options }) => ({
      connection,
      ...w,
      ...(trigger ? { trigger } : {}),
      ...(options ? { options } : {}),
    }));
  const input = mutated(valid, {
    connection: hostileName,
    from: fc.oneof(dateString, junk),
    to: fc.oneof(dateString, junk),
    trigger: fc.oneof(
      fc.record({ kind: fc.oneof(fc.constantFrom(...TRIGGER_KINDS), nastyString), by: fc.oneof(nastyString, junk) }, { requiredKeys: [] }),
      junk,
    ),
    options: hostileOptions,
  });

  it('either fails naming a field or gives a value every rule holds for', () => {
    fc.assert(
      fc.property(asSent(input), (raw) => {
        const out = attempt(() => parseExportInput(raw));
        if ('error' in out) return expectFieldError(out.error, InvalidExportInput, 'invalid export input: ', KNOWN);
        const v = out.value;
        expect(v.connection).toMatch(CONNECTION_NAME);
        for (const t of [v.from, v.to]) {
          expect(new Date(t).toISOString()).toBe(t);
          expect(Date.parse(t) >= EARLIEST_INSTANT && Date.parse(t) <= LATEST_INSTANT).toBe(true);
        }
        expect(Date.parse(v.to) - Date.parse(v.from)).toBeGreaterThan(0);
        expect(Date.parse(v.to) - Date.parse(v.from)).toBeLessThanOrEqual(MAX_WINDOW_DAYS * DAY);
        expect(TRIGGER_KINDS).toContain(v.trigger.kind);
        if (v.trigger.by !== undefined) expect(textProblem(v.trigger.by, 200)).toBeUndefined();
        for (const [name, rule] of Object.entries(OPTION_RULES)) {
          const value = v.options[name as keyof typeof v.options];
          expect(Number.isFinite(value) && value >= rule.min && value <= rule.max && (!rule.integer || Number.isInteger(value))).toBe(true);
        }
        expect(Object.keys(v).sort()).toEqual(['connection', 'from', 'options', 'to', 'trigger']);
      }),
      { numRuns: 1500 },
    );
    expectBothWays(MIN_EACH_WAY);
  });
});

describe('durations and cron', () => {
  const durationText = fc.oneof(
    fc
      .tuple(fc.option(fc.nat(2000)), fc.option(fc.nat(100)), fc.option(fc.nat(100)), fc.option(fc.nat(100)))
      .map(([d, h, m, s]) =>
        [d === null ? '' : `${d}d`, h === null ? '' : `${h}h`, m === null ? '' : `${m}m`, s === null ? '' : `${s}s`].join(''),
      ),
    fc.stringMatching(/^\d{1,12}[dhms]?$/),
    nastyString,
  );

  it('read durations within bounds, or say which field is wrong', () => {
    fc.assert(
      fc.property(fc.oneof(durationText, fc.oneof(fc.integer(), fc.double())), (v) => {
        const out = attempt(() => parseDuration(v, 'delay', DELAY_BOUNDS));
        if ('error' in out) {
          expect(out.error).toBeInstanceOf(InvalidCadence);
          expect((out.error as Error).message).toMatch(/^delay: /);
          return;
        }
        expect(Number.isSafeInteger(out.value) && out.value % 1000 === 0).toBe(true);
        expect(out.value >= DELAY_BOUNDS.min && out.value <= DELAY_BOUNDS.max).toBe(true);
      }),
      { numRuns: 2000 },
    );
    expectBothWays(MIN_EACH_WAY);
  });

  const cronField = fc.oneof(
    fc.constantFrom(
      '*',
      '*/5',
      '*/0',
      '*/99',
      '1-5',
      '5-1',
      '1-2-3',
      '0',
      '59',
      '60',
      '7',
      '31',
      '29',
      '30',
      '2',
      'mon',
      'monday',
      'feb',
      'jan-mar',
      'L',
      '?',
      '1,15',
      '',
      '-1',
    ),
    fc.nat(70).map(String),
    fc.tuple(fc.nat(40), fc.nat(40)).map(([a, b]) => `${a}-${b}`),
  );
  const cronText = fc.oneof(
    fc.array(cronField, { minLength: 5, maxLength: 5 }).map((f) => f.join(' ')),
    fc.array(cronField, { minLength: 3, maxLength: 7 }).map((f) => f.join(' ')),
    fc.constantFrom('@daily', '@hourly', '@every 1h', 'TZ=UTC 0 0 * * *', '0 3 31 2 *', '0 0 29 2 *', '0 0 13 * 5'),
    nastyString,
  );

  it('accept only cron expressions that fire in every year, and find that fire', () => {
    fc.assert(
      fc.property(cronText, fc.integer({ min: 2000, max: 2100 }), (text, year) => {
        const out = attempt(() => parseCron(text));
        if ('error' in out) {
          expect(out.error).toBeInstanceOf(InvalidCadence);
          expect((out.error as Error).message).toMatch(/^cron/);
          return;
        }
        const fire = cronFireAfter(out.value, Date.UTC(year, 0, 1) - 1);
        expect(new Date(fire).getUTCFullYear()).toBe(year);
      }),
      { numRuns: 1500 },
    );
    expectBothWays(MIN_EACH_WAY);
  });
});

describe('trigger inputs', () => {
  const every = fc.oneof(
    fc.constantFrom('1h', '1d', '10s', '15m', '366d', '1d12h'),
    fc.integer({ min: 10, max: 366 * 86_400 }).map(String),
  );
  const validScheduled = fc
    .record({
      connection: goodName,
      cadence: fc.oneof(
        every.map((e) => ({ every: e })),
        fc.constantFrom('@daily', '30 2 * * *', '0 0 13 * 5', '*/15 * * * mon-fri', '0 0 1 1,7 *').map((c) => ({ cron: c })),
      ),
      delay: fc.option(fc.constantFrom('0s', '10m', '2h', '30d')),
      scheduleId: fc.option(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/)),
      options: fc.option(validOptions),
      at: fc.option(fc.integer({ min: Date.UTC(2001, 0, 1), max: Date.UTC(2099, 0, 1) }).map((ms) => new Date(ms).toISOString())),
    })
    .map(({ cadence, ...rest }) => ({ ...cadence, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== null)) }));
  const scheduled = mutated(validScheduled, {
    connection: hostileName,
    every: fc.oneof(fc.constantFrom('9s', '367d', '100000d', '1h1h', '', '0x10'), nastyString, junk),
    cron: fc.oneof(fc.constantFrom('0 3 31 2 *', '0 0 29 2 *', '0 0 * * * *', 'TZ=UTC 0 0 * * *'), nastyString, junk),
    delay: fc.oneof(fc.constantFrom('31d', '3650d', '100000d', '-1s'), nastyString, junk),
    scheduleId: fc.oneof(fc.constantFrom('a b', '../x', '-x', 'x'.repeat(201)), nastyString, junk),
    options: hostileOptions,
    at: fc.oneof(dateString, fc.constantFrom('2000-01-01T00:00:00Z', '2100-12-31T23:59:59Z'), junk),
  });

  it('a scheduled export input either fails naming a field or obeys every rule', () => {
    fc.assert(
      fc.property(asSent(scheduled), (raw) => {
        const out = attempt(() => parseScheduledExportInput(raw));
        if ('error' in out) return expectFieldError(out.error, InvalidTriggerInput, 'invalid scheduled export input: ', []);
        const v = out.value;
        expect(v.connection).toMatch(CONNECTION_NAME);
        if (v.scheduleId !== undefined) expect(v.scheduleId).toMatch(SCHEDULE_ID);
        const cadence = parseCadence(v);
        expect(cadence.delayMs).toBeLessThanOrEqual(DELAY_BOUNDS.max);
        if (cadence.kind === 'every') expect(cadence.everyMs >= EVERY_BOUNDS.min && cadence.everyMs <= EVERY_BOUNDS.max).toBe(true);
        if (v.at !== undefined) {
          expect(new Date(v.at).toISOString()).toBe(v.at);
          const w = windowForRun(cadence, Date.parse(v.at));
          expect(Date.parse(w.from) >= EARLIEST_INSTANT && Date.parse(w.to) <= LATEST_INSTANT).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
    expectBothWays(MIN_EACH_WAY);
  });

  const validSweep = fc
    .record({
      connections: fc.option(fc.uniqueArray(goodName, { maxLength: 4 })),
      lookbackDays: fc.option(fc.integer({ min: 0, max: 366 })),
      dryRun: fc.option(fc.boolean()),
      now: fc.option(validInstant),
      by: fc.option(goodText),
      options: fc.option(validOptions),
    })
    .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)));
  const sweep = mutated(validSweep, {
    connections: fc.oneof(
      fc.array(fc.oneof(goodName, fc.constantFrom(...PROTOTYPE_NAMES), nastyString), { maxLength: 4 }),
      goodName.map((n) => [n, n]),
      junk,
    ),
    lookbackDays: numberish,
    dryRun: junk,
    now: fc.oneof(dateString, junk),
    by: fc.oneof(nastyString, junk),
    options: hostileOptions,
  });

  it('a retention sweep input either fails naming a field or obeys every rule', () => {
    fc.assert(
      fc.property(asSent(sweep), (raw) => {
        const out = attempt(() => parseRetentionSweepInput(raw));
        if ('error' in out) return expectFieldError(out.error, InvalidTriggerInput, 'invalid retention sweep input: ', []);
        const v = out.value;
        for (const c of v.connections ?? []) expect(c).toMatch(CONNECTION_NAME);
        expect(new Set(v.connections).size).toBe(v.connections?.length ?? 0);
        expect(Number.isInteger(v.lookbackDays) && v.lookbackDays >= 0 && v.lookbackDays <= 366).toBe(true);
        expect(typeof v.dryRun).toBe('boolean');
        if (v.by !== undefined) expect(textProblem(v.by, 200)).toBeUndefined();
        if (v.now !== undefined) expect(new Date(v.now).toISOString()).toBe(v.now);
      }),
      { numRuns: 1000 },
    );
    expectBothWays(MIN_EACH_WAY);
  });
});

describe('the configuration', () => {
  const hosts = fc.oneof(
    fc.constantFrom(
      'api.bird.com',
      '127.0.0.1',
      '169.254.169.254',
      '169.254.170.2',
      '[::1]',
      '[fd00:ec2::254]',
      '[::ffff:169.254.169.254]',
      '[fe80::1]',
      'metadata.google.internal',
      'METADATA.GOOGLE.INTERNAL.',
      '2852039166',
      '0xa9fea9fe',
      '0251.0376.0251.0376',
      'localhost',
      '10.0.0.1',
      '100.100.100.200',
      '0.0.0.0',
      'seaweedfs',
    ),
    fc.domain(),
    fc.ipV4(),
    fc.ipV6().map((ip) => `[${ip}]`),
  );
  const weighted = <T>(common: T[], rare: T[]) =>
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...common) }, { weight: 1, arbitrary: fc.constantFrom(...rare) });
  const url = fc
    .record({
      scheme: weighted(['http', 'https', 'HTTPS'], ['file', 'ftp', 'javascript', 'gopher', 'postgres']),
      user: fc.oneof(
        { weight: 4, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom('u', 'u:p', ':p', 'user:pa%40ss') },
      ),
      host: hosts,
      port: fc.option(fc.integer({ min: 0, max: 70000 })),
      path: fc.option(fc.webPath()),
      tail: fc.oneof(
        { weight: 4, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom('?token=x', '?', '#frag', '?X-Amz-Signature=abc') },
      ),
    })
    .map(
      (u) =>
        `${u.scheme}://${u.user === null ? '' : `${u.user}@`}${u.host}${u.port === null ? '' : `:${u.port}`}${u.path ?? ''}${u.tail ?? ''}`,
    );
  const hostPattern = fc.oneof(
    fc
      .tuple(
        fc.oneof(hosts, fc.constantFrom('*.amazonaws.com', '*.com', '*.google.internal', '*.svc.internal', '*.example.org')),
        fc.option(fc.integer({ min: 0, max: 70000 })),
      )
      .map(([h, port]) => `${h}${port === null ? '' : `:${port}`}`),
    nastyString,
  );
  const secret = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,20}$/).map((env) => ({ env })),
        fc.webPath().map((f) => ({ file: `/${f}` })),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.oneof(
        nastyString,
        fc.record({ env: nastyString }),
        fc.record({ file: nastyString }),
        fc.record({ value: goodText }),
        fc.constant({ env: 'A', file: '/b' }),
        junk,
      ),
    },
  );
  const hostile = fc.oneof(nastyString, junk, numberish);
  const value = (common: unknown[]) => fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...common) }, { weight: 1, arbitrary: hostile });
  const FIELDS: Array<[readonly string[], fc.Arbitrary<unknown>]> = [
    [
      ['temporal', 'address'],
      value(['127.0.0.1:7233', 'temporal:7233', '[::1]:7233', 'http://temporal:7233', 'temporal:99999', 'temporal']),
    ],
    [['temporal', 'namespace'], value(['default', 'prod.ns-1'])],
    [['temporal', 'taskQueue'], value(['callvault', 'cv.prod_1', 'a b', '../x'])],
    [['storage', 'endpoint'], fc.oneof(url, hostile)],
    [['storage', 'bucket'], value(['my-bucket', 'a.b.c', 'a..b', '10.1.2.3', 'UPPER'])],
    [['storage', 'prefix'], value(['exports', 'a/b/c', 'x_y/z-1', '../../etc', '/', '', 'a//b', 'a/', '.x', 'a/../b'])],
    [['storage', 'region'], value(['eu-west-1', 'us-east-1', 'evil.com#'])],
    [['storage', 'accessKeyId'], secret],
    [
      ['database', 'url'],
      value(['postgres://u@h/db', 'postgresql://h:5432/db', 'postgres://u:p@h/db', 'postgres://h/db?password=x', 'mysql://h/db']),
    ],
    [['connections', 'c', 'baseUrl'], fc.oneof(url, hostile)],
    [['connections', 'c', 'mediaHosts', '0'], hostPattern],
    [['connections', 'c', 'accessKey'], secret],
    [['connections', 'c', 'workspaceId'], fc.oneof(goodName, hostile)],
    [['connections', 'c', 'rateLimit', 'listPerSecond'], fc.oneof(fc.double({ min: 0.001, max: 1e6, noNaN: true }), numberish)],
    [['connections', 'd', 'filesBaseUrl'], fc.oneof(url, hostile)],
    [['connections', 'd', 'storageHosts', '0'], hostPattern],
    [['connections', 'd', 'apiToken'], secret],
  ];

  const base = () => ({
    temporal: { address: '127.0.0.1:7233' },
    storage: { bucket: 'callvault-test', endpoint: 'http://127.0.0.1:8333' },
    database: { url: 'postgres://postgres@127.0.0.1:5432/cv' },
    connections: {
      c: { provider: 'bird', workspaceId: 'ws', accessKey: { env: 'K' }, mediaHosts: ['*.amazonaws.com'] } as Record<string, unknown>,
      d: { provider: 'dixa', apiToken: { file: '/run/secrets/t' }, storageHosts: [] as unknown[] } as Record<string, unknown>,
    } as Record<string, unknown>,
  });

  function mutated(changes: Array<[readonly string[], unknown]>, allowPrivate: boolean, junkName: string | null): unknown {
    const raw = base() as unknown as Record<string, unknown>;
    for (const [path, value] of changes) {
      let node = raw;
      for (const key of path.slice(0, -1)) {
        if (typeof node[key] !== 'object' || node[key] === null) node[key] = {}; // an earlier change replaced it, or it is optional
        node = node[key] as Record<string, unknown>;
      }
      node[path[path.length - 1]!] = value;
    }
    const conns = raw.connections as Record<string, Record<string, unknown>>;
    if (typeof conns.c === 'object' && conns.c !== null) conns.c.allowPrivateNetwork = allowPrivate;
    // An own property, as JSON.parse makes it, even for `__proto__`.
    if (junkName !== null)
      Object.defineProperty(conns, junkName, { value: { ...conns.c }, enumerable: true, configurable: true, writable: true });
    return raw;
  }

  /** Independent of src/http/hosts: the addresses that must never be reached, in their normalized spelling. */
  function pointsAtMetadata(hostname: string): boolean {
    const h = hostname.replace(/\.$/, '').toLowerCase();
    return (
      h.startsWith('169.254.') ||
      h === '100.100.100.200' ||
      h === 'metadata.google.internal' ||
      h === '[fd00:ec2::254]' ||
      h.startsWith('[fe80:') ||
      h.startsWith('[::ffff:a9fe:')
    );
  }

  function checkUrl(value: unknown, allowPrivate: boolean): void {
    const u = new URL(value as string);
    expect(['http:', 'https:']).toContain(u.protocol);
    expect(u.username + u.password).toBe('');
    expect(u.search + u.hash).toBe('');
    expect(pointsAtMetadata(u.hostname), u.hostname).toBe(false);
    if (!allowPrivate) expect(serviceUrlProblem(value, { allowPrivateNetwork: false, secretHint: '' })).toBeUndefined();
  }

  it('either fails naming the file and every field, or holds nothing the rules refuse', () => {
    const change = fc.oneof(...FIELDS.map(([path, arb]) => arb.map((v): [readonly string[], unknown] => [path, v])));
    const junkName = fc.oneof(
      { weight: 4, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), nastyString) },
    );
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 3 }), fc.boolean(), junkName, (changes, allowPrivate, junkName) => {
        const raw = mutated(changes, allowPrivate, junkName);
        const out = attempt(() => parseConfig(raw, 'hostile.json'));
        if ('error' in out) {
          expect(out.error).toBeInstanceOf(ConfigurationError);
          const lines = (out.error as Error).message.split('\n');
          expect(lines[0]).toBe('hostile.json is not a valid callvault configuration:');
          for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}(\S.*?: .+|and \d+ more)$/);
          expect((out.error as Error).message).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
          return;
        }
        const cfg = out.value;
        expect(Object.keys(cfg.connections).every((n) => CONNECTION_NAME.test(n))).toBe(true);
        if (cfg.storage.endpoint !== undefined) checkUrl(cfg.storage.endpoint, true);
        expect(new URL(cfg.database.url).password).toBe('');
        expect(cfg.storage.prefix.split('/').every((s) => s !== '' && !s.startsWith('.'))).toBe(true);
        const c = cfg.connections.c;
        if (c?.provider === 'bird') {
          checkUrl(c.baseUrl, c.allowPrivateNetwork);
          expect(typeof c.accessKey).toBe('object');
        }
        const d = cfg.connections.d;
        if (d?.provider === 'dixa') for (const u of [d.exportsBaseUrl, d.apiBaseUrl, d.filesBaseUrl]) checkUrl(u, false);
      }),
      { numRuns: 1500 },
    );
    expectBothWays(MIN_EACH_WAY);
  });
});

describe('CLI numbers', () => {
  it('are plain decimal digits in range, nothing else', () => {
    const parse = wholeNumberArg(2, 3600);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.stringMatching(/^[0-9]{1,6}$/),
          fc.constantFrom('0x10', '1e3', '+5', '-5', ' 5', '5.0', '', 'Infinity', '٣'),
          nastyString,
        ),
        (s) => {
          const out = attempt(() => parse(s));
          const expected = /^(0|[1-9][0-9]*)$/.test(s) && Number(s) >= 2 && Number(s) <= 3600;
          expect('value' in out, JSON.stringify(s)).toBe(expected);
          if ('value' in out) expect(out.value).toBe(Number(s));
        },
      ),
      { numRuns: 2000 },
    );
    expectBothWays(MIN_EACH_WAY);
  });
});
