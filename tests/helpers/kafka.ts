import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type KafkaConfig,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { inject, onTestFinished } from 'vitest';

/** Bootstrap servers of this run's broker as a comma-separated string, for kcat's -b. */
export function bootstrapServers(): string {
  return inject('kafkaBootstrapServers');
}

/** Bootstrap servers of this run's broker as a list, for kafkajs. */
export function brokerList(): string[] {
  return bootstrapServers()
    .split(',')
    .map((server) => server.trim())
    .filter((server) => server.length > 0);
}

const runId = `${process.pid}-${randomBytes(3).toString('hex')}`;
let nameCounter = 0;

/**
 * Returns a topic, group or client name that no other test in any run on the
 * same broker uses, such as `orders-4121-a3f09c-7`.
 */
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `${prefix}-${runId}-${nameCounter}`;
}

/** Creates a kafkajs client for this run's broker with its logging switched off. */
export function createKafka(config: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: uniqueName('tickbus-test'),
    brokers: brokerList(),
    logLevel: logLevel.NOTHING,
    ...config,
  });
}

type CleanupTask = { name: string; run: () => unknown };

/**
 * Cleanup steps that run in reverse order of registration. Every step runs
 * even when an earlier one throws; the errors are rethrown together.
 */
export class CleanupRegistry {
  private tasks: CleanupTask[] = [];

  add(name: string, run: () => unknown): void {
    this.tasks.push({ name, run });
  }

  async runAll(): Promise<void> {
    const tasks = this.tasks.reverse();
    this.tasks = [];
    const errors: Error[] = [];
    for (const task of tasks) {
      try {
        await task.run();
      } catch (error) {
        errors.push(new Error(`Cleanup step "${task.name}" failed`, { cause: error }));
      }
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, `${errors.length} cleanup step(s) failed`);
    }
  }
}

/**
 * kafkajs clients whose disconnect is registered before they connect, so
 * every client is closed when the test ends, whether it passed or failed.
 */
export class TestKafka {
  private topicAdmin: Promise<Admin> | undefined;

  constructor(
    readonly kafka: Kafka,
    readonly cleanup: CleanupRegistry,
  ) {}

  async admin(): Promise<Admin> {
    const admin = this.kafka.admin();
    this.cleanup.add('admin.disconnect', () => admin.disconnect());
    await admin.connect();
    return admin;
  }

  /**
   * Creates a producer. Without a config it is idempotent: kafkajs retries a send whose response
   * was lost (common right after a topic is created), and only an idempotent producer keeps the
   * broker from storing that batch twice.
   */
  async producer(config: ProducerConfig = { idempotent: true, maxInFlightRequests: 1 }): Promise<Producer> {
    const producer = this.kafka.producer(config);
    this.cleanup.add('producer.disconnect', () => producer.disconnect());
    await producer.connect();
    return producer;
  }

  async consumer(config: ConsumerConfig): Promise<Consumer> {
    const consumer = this.kafka.consumer(config);
    this.cleanup.add(`consumer.disconnect (group ${config.groupId})`, () => consumer.disconnect());
    await consumer.connect();
    return consumer;
  }

  /** Creates a topic and waits until every partition has a leader. */
  async createTopic(topic: string, numPartitions: number): Promise<void> {
    this.topicAdmin ??= this.admin();
    const admin = await this.topicAdmin;
    // kafkajs 2.2.4's waitForLeaders gives up when a KRaft broker briefly returns
    // UNKNOWN_TOPIC_OR_PARTITION for a new topic, so leaders are awaited here instead.
    const created = await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: false });
    if (!created) {
      throw new Error(`Topic ${topic} already exists. Use uniqueName() for topic names.`);
    }
    await waitFor(async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = metadata.topics[0]?.partitions ?? [];
      return partitions.length === numPartitions && partitions.every((partition) => partition.leader >= 0);
    }, 30_000, { description: `leaders of the ${numPartitions} partitions of ${topic}` });
  }
}

/**
 * Creates kafkajs clients for the running test and disconnects them when it
 * finishes. Call it inside a test. For clients shared by a whole file, build
 * a TestKafka with your own CleanupRegistry and call runAll() in afterAll.
 */
export function useTestKafka(config: Partial<KafkaConfig> = {}): TestKafka {
  const cleanup = new CleanupRegistry();
  onTestFinished(() => cleanup.runAll());
  return new TestKafka(createKafka(config), cleanup);
}

export interface WaitForOptions {
  /** Delay between checks in milliseconds (default 50). */
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  description?: string;
}

/**
 * Polls `condition` until it returns true and rejects after `timeoutMs`
 * milliseconds. A check that throws counts as false, and its error is
 * reported in the timeout message.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  options: WaitForOptions = {},
): Promise<void> {
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;

  for (;;) {
    try {
      if (await condition()) {
        return;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      break;
    }
    await sleep(intervalMs);
  }

  const awaited = options.description ?? 'condition';
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${awaited}`,
    lastError === undefined ? undefined : { cause: lastError },
  );
}
