/**
 * Schema migrations, in order. Append, never edit: a deployed database has run the old ones.
 * They live in code (not .sql files) so the compiled worker carries them without copy steps.
 */
export const migrations: ReadonlyArray<{ id: number; name: string; sql: string }> = [
  {
    id: 1,
    name: 'exports and files',
    sql: `
      CREATE TABLE callvault.exports (
        workflow_id   text PRIMARY KEY,
        first_run_id  text NOT NULL,
        connection    text NOT NULL,
        provider      text NOT NULL,
        window_from   timestamptz NOT NULL,
        window_to     timestamptz NOT NULL,
        trigger_kind  text NOT NULL,
        triggered_by  text,
        status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
        listed        bigint NOT NULL DEFAULT 0,
        transferred   bigint NOT NULL DEFAULT 0,
        skipped       bigint NOT NULL DEFAULT 0,
        failed        bigint NOT NULL DEFAULT 0,
        bytes         bigint NOT NULL DEFAULT 0,
        error         text,
        started_at    timestamptz NOT NULL DEFAULT now(),
        finished_at   timestamptz
      );
      CREATE INDEX exports_connection_window ON callvault.exports (connection, window_from, window_to);

      CREATE TABLE callvault.files (
        id                bigserial PRIMARY KEY,
        provider          text NOT NULL,
        connection        text NOT NULL,
        source_id         text NOT NULL,
        source_kind       text NOT NULL,
        conversation_id   text NOT NULL,
        message_id        text,
        original_name     text,
        source_created_at timestamptz,
        source_url        text,
        status            text NOT NULL CHECK (status IN ('stored', 'failed')),
        failure_code      text,
        failure_reason    text,
        bucket            text,
        object_key        text,
        version_id        text,
        etag              text,
        size_bytes        bigint,
        sha256            text,
        content_type      text,
        workflow_id       text NOT NULL,
        run_id            text NOT NULL,
        attempt           integer NOT NULL,
        started_at        timestamptz NOT NULL,
        finished_at       timestamptz NOT NULL,
        CONSTRAINT files_source_unique UNIQUE (connection, source_id),
        CONSTRAINT files_stored_complete CHECK (
          status <> 'stored' OR (object_key IS NOT NULL AND sha256 IS NOT NULL AND size_bytes IS NOT NULL)
        )
      );
      CREATE UNIQUE INDEX files_object_unique ON callvault.files (bucket, object_key) WHERE status = 'stored';
      CREATE INDEX files_workflow ON callvault.files (workflow_id);
      CREATE INDEX files_created ON callvault.files (connection, source_created_at);
    `,
  },
  {
    id: 2,
    name: 'export runs on file rows, early export failures',
    sql: `
      -- The first run id of the export (workflowInfo().firstExecutionRunId, the same across
      -- continue-as-new) that wrote a file row: tells "this export already counted it" apart from
      -- "an earlier export of the same window stored it", so repeated listings never count twice.
      ALTER TABLE callvault.files ADD COLUMN export_run text;
      CREATE INDEX files_export_run ON callvault.files (export_run);
      -- An export that fails before it knows its provider or window (bad input) still gets a row.
      ALTER TABLE callvault.exports ALTER COLUMN provider DROP NOT NULL;
      ALTER TABLE callvault.exports ALTER COLUMN window_from DROP NOT NULL;
      ALTER TABLE callvault.exports ALTER COLUMN window_to DROP NOT NULL;
    `,
  },
  {
    id: 3,
    name: 'listing counts',
    sql: `
      -- Files a listing had to download to count (Kore's v1 API inlines a session's recordings):
      -- kept so that a rerun lists the conversation from here and fetches no byte again.
      CREATE TABLE callvault.listing_counts (
        connection      text NOT NULL,
        conversation_id text NOT NULL,
        files           integer NOT NULL CHECK (files > 0),
        counted_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (connection, conversation_id)
      );
    `,
  },
  {
    id: 4,
    name: 'legal holds and erasure tombstones',
    sql: `
      -- An erased file keeps its row, as status 'erased': the unique (connection, source_id) row is
      -- what makes every later listing skip the file, and a stored or erased row is never replaced.
      ALTER TABLE callvault.files DROP CONSTRAINT files_status_check;
      ALTER TABLE callvault.files ADD CONSTRAINT files_status_check CHECK (status IN ('stored', 'failed', 'erased'));

      -- A legal hold per file: set by someone for a reason, released by someone for a reason. The
      -- row is kept after release (the audit trail); at most one hold per file is in force.
      CREATE TABLE callvault.holds (
        id              bigserial PRIMARY KEY,
        connection      text NOT NULL,
        source_id       text NOT NULL,
        set_by          text NOT NULL,
        set_reason      text NOT NULL,
        set_at          timestamptz NOT NULL DEFAULT now(),
        store_hold      text NOT NULL,
        released_by     text,
        released_reason text,
        released_at     timestamptz
      );
      CREATE UNIQUE INDEX holds_in_force ON callvault.holds (connection, source_id) WHERE released_at IS NULL;

      -- The proof of an erasure, one row per file: who, when, why, what was deleted (keys and
      -- version ids) and the SHA-256 of what the file was.
      CREATE TABLE callvault.tombstones (
        connection      text NOT NULL,
        source_id       text NOT NULL,
        provider        text NOT NULL,
        conversation_id text NOT NULL,
        sha256          text,
        size_bytes      bigint,
        erased_by       text NOT NULL,
        reason          text NOT NULL,
        erased_at       timestamptz NOT NULL DEFAULT now(),
        workflow_id     text NOT NULL,
        deleted         jsonb NOT NULL,
        PRIMARY KEY (connection, source_id)
      );
    `,
  },
];
