/**
 * Node flags every worker process runs with.
 * - A streaming worker allocates a stream of short-lived 64 KiB chunks; with V8's default 16 MB
 *   semi-spaces they pile up between scavenges and the resident set swells by ~50 MB. A 2 MB
 *   young generation collects them promptly (measured on a 1 GiB transfer: 187 MB -> 136 MB).
 * - V8 lets the old generation grow up to 4x what survived the last full collection before it
 *   collects again. Small files leave a steady trickle of short-lived objects that outlive the
 *   small young generation, so the heap swelled to 80+ MB and the worker to 217-248 MB on 2,000
 *   small files. Capping the growth at 2x (--heap-growing-percent=100) took that to 157-198 MB;
 *   at 1.5x (50) it is 158-178 MB, and 150-155 MB on large files (165-176 at 2x), for ~8% more
 *   worker CPU on large and middle files, where the S3 store, not the worker, sets the pace.
 * - --expose-gc lets the read-back of a resumed file ask for a minor collection now and then
 *   (src/transfer/verify.ts), since nothing else triggers one while it streams.
 * Used by the CLI's shebang, `npm run worker`, the Dockerfile, the demo, the tests and the bench.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=50', '--expose-gc'];

/**
 * Environment every worker process starts with. glibc gives each thread that allocates its own
 * malloc arena (up to 8 per core), and a worker has many threads (Temporal's core runtime, libuv,
 * V8's helpers): freed memory stays resident, spread over the arenas. Two arenas took ~10 MB off
 * each worker's peak on the bench (transfers 201 -> 193 MB on small files, workflows 174 -> 162 MB).
 * Read by glibc at process start, so it has to come from whoever starts the worker: the CLI's
 * shebang, `npm run worker`, the Dockerfile and the dev stack's launcher set it.
 */
export const WORKER_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
