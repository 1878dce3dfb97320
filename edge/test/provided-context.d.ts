/** Values the global setup (test/node/global-setup.ts) provides to the config and to tests. */
declare module "vitest" {
  export interface ProvidedContext {
    sqsEndpoint: string;
    sqsQueueUrl: string;
    receiverUrl: string;
  }
}

export {};
