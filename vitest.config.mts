import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Two cores: integration files share one Temporal, one SeaweedFS and one database, one at a time.
    fileParallelism: false,
    // The SDK's notice about Node 22 is not about callvault; keep test output readable.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      {
        // Unit tests, and the provider contract: every provider against its simulator, in process.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts'], testTimeout: 30_000 },
      },
      {
        // The workflows' state machines on a real Temporal dev server, activities mocked in-process.
        test: { name: 'workflow', include: ['test/workflow/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000 },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
