import { ApplicationFailure } from '@temporalio/activity';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDataRejection, toActivityFailure } from '../../activities/failures';
import { ConfigurationError } from '../../src/errors';

/** What Postgres itself answers (the one on 127.0.0.1:5432 every test run has), not hand-made errors. */
describe('activity failures from Postgres', () => {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', max: 1 });

  beforeAll(async () => {
    await pool.query('SELECT 1');
  });
  afterAll(async () => {
    await pool.end();
  });

  it('makes data Postgres refuses non-retryable: a NUL, a date out of range, a NOT NULL', async () => {
    const client = await pool.connect();
    const refusal = (sql: string, params: unknown[] = []): Promise<unknown> =>
      client.query(sql, params).then(
        () => undefined,
        (err: unknown) => err,
      );
    try {
      await client.query('CREATE TEMP TABLE t (id int PRIMARY KEY, name text NOT NULL)');
      const cases = [
        await refusal('SELECT $1::text', ['jane\u0000']),
        await refusal("SELECT '0000-01-01'::timestamptz"),
        await refusal("SELECT '2026-02-31'::date"),
        await refusal('INSERT INTO t VALUES (1, NULL)'),
      ];
      for (const err of cases) {
        expect(isDataRejection(err), String(err)).toBe(true);
        const failure = toActivityFailure(err) as ApplicationFailure;
        expect(failure).toBeInstanceOf(ApplicationFailure);
        expect(failure.nonRetryable).toBe(true);
        expect(failure.type).toBe('DataRejected');
        expect(failure.message).toMatch(/^the database refused the data \(SQLSTATE 2\d{4}\): /);
        expect(failure.message).not.toMatch(/\u0000/);
      }
      // A unique violation comes from a concurrent writer: a retry sees the other row.
      await client.query('INSERT INTO t VALUES (2, $1)', ['a']);
      const duplicate = await refusal('INSERT INTO t VALUES (2, $1)', ['b']);
      expect(isDataRejection(duplicate)).toBe(false);
      expect(toActivityFailure(duplicate)).toBe(duplicate);
    } finally {
      client.release();
    }
  });

  it('keeps an unknown connection non-retryable, naming it', () => {
    const failure = toActivityFailure(new ConfigurationError("connection: unknown connection 'constructor'")) as ApplicationFailure;
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe("connection: unknown connection 'constructor'");
  });
});
