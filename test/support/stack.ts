/** Addresses of the real servers the global setup started for this run. */
export interface TestStack {
  temporalAddress: string;
  s3Endpoint: string;
  databaseUrl: string;
  dataDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}
