import type { TestProject } from 'vitest/node';

import { acquireBroker } from '../scripts/kafka.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Comma-separated host:port list of the Kafka broker for this test run. */
    kafkaBootstrapServers: string;
  }
}

/**
 * Starts one Kafka broker for the whole run, or uses KAFKA_BOOTSTRAP_SERVERS
 * or a broker from `npm run kafka:start`. When no broker can be had, the
 * launcher's error fails the run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (message: string): void => console.log(`[kafka] ${message}`);
  const broker = await acquireBroker(process.env, log);
  log(`Tests use ${broker.description}`);
  project.provide('kafkaBootstrapServers', broker.bootstrapServers);

  return async () => {
    await broker.release();
  };
}
