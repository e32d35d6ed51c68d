import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'

import { defineEvent } from '../../src/schema/define-event.js'
import { t } from '../../src/schema/fields.js'
import { createTopology } from '../../src/topology/builder.js'
import { customDecoder, protobufDecoder } from '../../src/topology/decoders.js'
import { startTsWorker } from '../helpers/ts-worker.js'
import type { ResolveWorkerData, ResolveWorkerResult } from './fixtures/resolve.worker.js'

const Move = defineEvent('Move', { playerId: t.u32(), x: t.f32() })
const Profile = defineEvent('Profile', { name: t.string(), avatar: t.bytes().nullable(), score: t.i64() })

const MoveProto = protobuf.parse(`
  syntax = "proto3";
  package game;
  message Move { uint32 player_id = 1; float x = 2; }
`).root.lookupType('game.Move')

const decodersModule = new URL('./fixtures/decoders.mjs', import.meta.url)

function bytes (text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

describe('resolveTopology in a worker', () => {
  it('decodes with a topology sent through workerData', async () => {
    const topology = createTopology()
      .topic('moves', { partitions: 1 })
      .bind('moves', Move, { decoder: protobufDecoder(MoveProto), match: { header: 'content-type', value: 'protobuf' } })
      .bind('moves', Move, { decoder: customDecoder({ module: decodersModule, export: 'moveCsvCodec' }) })
      .bind('moves', Profile)
      .build()
    const workerData: ResolveWorkerData = {
      topology,
      values: [
        MoveProto.encode(MoveProto.fromObject({ playerId: 5, x: 0.25 })).finish(),
        bytes('6,0.5'),
        bytes('{"name":"ann","score":"9007199254740993"}'),
      ],
      headers: [['content-type', bytes('protobuf')]],
    }

    // The worker runs the TypeScript fixture through tsx; see startTsWorker().
    const worker = startTsWorker(new URL('./fixtures/resolve.worker.ts', import.meta.url), { workerData })
    try {
      const result = await new Promise<ResolveWorkerResult>((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
        worker.once('exit', (code) => reject(new Error(`resolve worker exited with code ${code} before its result`)))
      })

      expect(result.eventTypeNames).toEqual(['Move', 'Profile'])
      expect(result.bindings).toEqual([
        { decoderName: 'protobuf game.Move', matched: true, event: { playerId: 5, x: 0.25 } },
        { decoderName: 'custom moveCsvCodec', matched: true, event: { playerId: 6, x: 0.5 } },
        { decoderName: 'json', matched: true, event: { name: 'ann', avatar: null, score: 9007199254740993n } },
      ])
    } finally {
      await worker.terminate()
    }
  })
})
