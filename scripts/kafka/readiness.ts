import { setTimeout as sleep } from 'node:timers/promises';

import { Kafka, logLevel } from 'kafkajs';

const POLL_INTERVAL_MS = 250;

export interface ReadinessOptions {
  timeoutMs: number;
  /** Returns a reason to stop waiting early, such as "the broker process exited". */
  checkAborted?: () => string | undefined;
  /**
   * Cluster id the broker was formatted with. A response with another id
   * comes from a different broker on the same port, and ends the wait.
   */
  expectedClusterId?: string;
}

export type ReadinessResult =
  | { ready: true; elapsedMs: number }
  | { ready: false; cause: 'timeout' | 'aborted' | 'other-broker'; reason: string };

/**
 * Polls the broker with a kafkajs admin metadata request (describeCluster)
 * until it lists at least one broker, the timeout passes, or `checkAborted`
 * returns a reason.
 */
export async function waitUntilReady(
  bootstrapServers: string,
  options: ReadinessOptions,
): Promise<ReadinessResult> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let lastError = 'no response yet';

  while (Date.now() < deadline) {
    const aborted = options.checkAborted?.();
    if (aborted !== undefined) {
      return { ready: false, cause: 'aborted', reason: aborted };
    }

    const response = await requestMetadata(bootstrapServers);
    if ('clusterId' in response) {
      const expected = options.expectedClusterId;
      if (expected !== undefined && response.clusterId !== expected) {
        return {
          ready: false,
          cause: 'other-broker',
          reason: `a different Kafka broker (cluster id ${response.clusterId}, expected ${expected}) answers on ${bootstrapServers}`,
        };
      }
      return { ready: true, elapsedMs: Date.now() - started };
    }
    lastError = response.error;
    await sleep(POLL_INTERVAL_MS);
  }

  return {
    ready: false,
    cause: 'timeout',
    reason: `no response to a metadata request within ${options.timeoutMs / 1000} s (last error: ${lastError})`,
  };
}

/** Sends one metadata request. Returns the cluster id on success and the error message otherwise. */
async function requestMetadata(bootstrapServers: string): Promise<{ clusterId: string } | { error: string }> {
  const kafka = new Kafka({
    clientId: 'tickbus-kafka-launcher',
    brokers: bootstrapServers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) {
      return { error: 'the metadata response listed no brokers' };
    }
    return { clusterId: cluster.clusterId };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
