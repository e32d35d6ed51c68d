import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

import type { IHeaders } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';

import { bootstrapServers, uniqueName, useTestKafka, waitFor } from '../helpers/kafka.js';

const execFileAsync = promisify(execFile);

/** Runs kcat with `input` on stdin and returns its stdout. Rejects with kcat's stderr when it exits non-zero. */
function runKcat(args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', ['-b', bootstrapServers(), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) {
        resolve(stdout);
      } else {
        reject(new Error(`kcat ${args.join(' ')} exited with code ${code}: ${stderr.trim()}`));
      }
    });
    child.stdin.end(input);
  });
}

function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  if (value === undefined) {
    return undefined;
  }
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

describe('kcat interoperability', () => {
  beforeAll(async () => {
    try {
      await execFileAsync('kcat', ['-V']);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error('kcat was not found on PATH. Install it with: apt-get install kcat');
      }
      throw error;
    }
  });

  it('kcat produces keys and headers that kafkajs reads', async () => {
    const testKafka = useTestKafka();
    const topic = uniqueName('kcat-to-kafkajs');
    await testKafka.createTopic(topic, 1);

    const lines = ['player-1:{"event":"join"}', 'player-2:{"event":"move","x":3}', 'player-1:{"event":"leave"}'];
    await runKcat(
      ['-P', '-t', topic, '-K', ':', '-H', 'trace-id=abc-123', '-H', 'source=kcat'],
      `${lines.join('\n')}\n`,
    );

    const received: { key: string | undefined; value: string | undefined; headers: IHeaders | undefined }[] = [];
    const consumer = await testKafka.consumer({ groupId: uniqueName('kcat-reader') });
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({
          key: message.key?.toString('utf8'),
          value: message.value?.toString('utf8'),
          headers: message.headers,
        });
      },
    });
    await waitFor(() => received.length >= lines.length, 30_000, { description: `${lines.length} messages from kcat` });

    expect(received.map((message) => message.key)).toEqual(['player-1', 'player-2', 'player-1']);
    expect(received.map((message) => message.value)).toEqual([
      '{"event":"join"}',
      '{"event":"move","x":3}',
      '{"event":"leave"}',
    ]);
    for (const message of received) {
      expect(headerText(message.headers, 'trace-id')).toBe('abc-123');
      expect(headerText(message.headers, 'source')).toBe('kcat');
    }
  });

  it('kafkajs produces keys and headers that kcat prints', async () => {
    const testKafka = useTestKafka();
    const topic = uniqueName('kafkajs-to-kcat');
    await testKafka.createTopic(topic, 1);

    const producer = await testKafka.producer();
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'player-7', value: 'spawn', headers: { 'trace-id': 'xyz-9', source: 'kafkajs' } },
        { key: 'player-8', value: 'hit 25', headers: { 'trace-id': 'xyz-10', source: 'kafkajs' } },
      ],
    });

    const output = await runKcat([
      '-C',
      '-t',
      topic,
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      'offset=%o|key=%k|headers=%h|payload=%s\\n',
    ]);

    expect(output.trimEnd().split('\n')).toEqual([
      'offset=0|key=player-7|headers=trace-id=xyz-9,source=kafkajs|payload=spawn',
      'offset=1|key=player-8|headers=trace-id=xyz-10,source=kafkajs|payload=hit 25',
    ]);
  });
});
