import type { EachMessagePayload } from 'kafkajs';
import { describe, expect, it } from 'vitest';

import { uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js';

const PARTITIONS = 6;
const MESSAGE_COUNT = 1_000;
const KEY_COUNT = 50;
const BATCH_SIZE = 100;

interface Received {
  partition: number;
  offset: bigint;
  key: string;
  sequence: number;
}

describe('local Kafka broker', () => {
  it('delivers keyed messages in partition order and commits every offset', async () => {
    const testKafka = useTestKafka();
    const topic = uniqueName('orders');
    const groupId = uniqueName('orders-group');
    await testKafka.createTopic(topic, PARTITIONS);

    // Each key carries its own sequence, so per-key order can be checked after consuming.
    const producer = await testKafka.producer();
    for (let start = 0; start < MESSAGE_COUNT; start += BATCH_SIZE) {
      const messages = [];
      for (let index = start; index < start + BATCH_SIZE; index += 1) {
        const key = `player-${index % KEY_COUNT}`;
        const sequence = Math.floor(index / KEY_COUNT);
        messages.push({ key, value: JSON.stringify({ key, sequence }) });
      }
      await producer.send({ topic, acks: -1, messages });
    }

    const received: Received[] = [];
    const consumer = await testKafka.consumer({ groupId });
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }: EachMessagePayload) => {
        const body = JSON.parse(message.value?.toString('utf8') ?? 'null') as { key: string; sequence: number };
        received.push({
          partition,
          offset: BigInt(message.offset),
          key: message.key?.toString('utf8') ?? '',
          sequence: body.sequence,
        });
      },
    });
    // Kafka delivers at least once: a rebalance while the machine is busy can replay messages
    // whose offsets were not committed yet. Only the first delivery of each offset counts.
    const firstDeliveries = (): Received[] => {
      const seen = new Set<string>();
      return received.filter((message) => {
        const id = `${message.partition}@${message.offset}`;
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      });
    };
    await waitFor(() => firstDeliveries().length >= MESSAGE_COUNT, 30_000, {
      description: `${MESSAGE_COUNT} messages (got ${received.length})`,
    });
    const allDeliveries = received.length;
    received.splice(0, received.length, ...firstDeliveries());

    expect(received).toHaveLength(MESSAGE_COUNT);
    expect(allDeliveries).toBeGreaterThanOrEqual(MESSAGE_COUNT);
    const uniqueMessages = new Set(received.map((message) => `${message.key}#${message.sequence}`));
    expect(uniqueMessages.size).toBe(MESSAGE_COUNT);

    // Offsets within a partition arrive in order and without gaps.
    const offsetsByPartition = new Map<number, bigint[]>();
    for (const message of received) {
      const offsets = offsetsByPartition.get(message.partition) ?? [];
      offsets.push(message.offset);
      offsetsByPartition.set(message.partition, offsets);
    }
    for (const [partition, offsets] of offsetsByPartition) {
      const expected = offsets.map((_, index) => BigInt(index));
      expect(offsets, `offsets of partition ${partition}`).toEqual(expected);
    }

    // A key maps to one partition, so its messages arrive in the order they were produced.
    const messagesByKey = new Map<string, Received[]>();
    for (const message of received) {
      const messages = messagesByKey.get(message.key) ?? [];
      messages.push(message);
      messagesByKey.set(message.key, messages);
    }
    expect(messagesByKey.size).toBe(KEY_COUNT);
    for (const [key, messages] of messagesByKey) {
      const partitions = new Set(messages.map((message) => message.partition));
      expect(partitions.size, `partitions used by ${key}`).toBe(1);
      const sequences = messages.map((message) => message.sequence);
      expect(sequences, `sequences of ${key}`).toEqual(sequences.map((_, index) => index));
    }

    // The group's committed offset reaches each partition's end offset.
    const admin = await testKafka.admin();
    const endOffsets = await admin.fetchTopicOffsets(topic);
    expect(endOffsets).toHaveLength(PARTITIONS);
    const totalEnd = endOffsets.reduce((sum, entry) => sum + Number(entry.high), 0);
    expect(totalEnd).toBe(MESSAGE_COUNT);
    for (const entry of endOffsets) {
      const consumed = offsetsByPartition.get(entry.partition)?.length ?? 0;
      expect(Number(entry.high), `end offset of partition ${entry.partition}`).toBe(consumed);
    }

    const committedByPartition = async (): Promise<Map<number, string>> => {
      const [topicOffsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map((topicOffsets?.partitions ?? []).map((entry) => [entry.partition, entry.offset]));
    };
    await waitFor(
      async () => {
        const committed = await committedByPartition();
        return endOffsets.every((entry) => committed.get(entry.partition) === entry.high);
      },
      15_000,
      { description: 'committed offsets to reach the end offsets' },
    );
    const committed = await committedByPartition();
    for (const entry of endOffsets) {
      expect(committed.get(entry.partition), `committed offset of partition ${entry.partition}`).toBe(entry.high);
    }
  });
});
