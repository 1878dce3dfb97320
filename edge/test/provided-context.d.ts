/** Values the global setup (test/node/global-setup.ts) provides to the config and to tests. */
declare module "vitest" {
  export interface ProvidedContext {
    sqsEndpoint: string;
    sqsQueueUrl: string;
    /** SQS_QUEUES of the test run: model -> priority ("0", "1", "2") -> queue URL. */
    sqsQueues: Record<string, Record<string, string>>;
    receiverUrl: string;
  }
}

export {};
