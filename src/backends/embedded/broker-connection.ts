import type { MessagePort } from 'node:worker_threads'
import { ErrorCode, TickbusError, toErrorRecord } from '../../errors.js'
import type { EmbeddedBroker } from './broker.js'
import { topicPartitionKey, type GroupMember } from './consumer-group.js'
import type { AssignedPartition, BrokerMessage, BrokerRequest } from './protocol.js'

type FetchRequest = Extract<BrokerRequest, { type: 'fetch' }>

/**
 * The main-thread end of one worker task's MessagePort to the embedded broker. It replies to the
 * task's requests, delays a fetch reply while there is no record to return, and removes the
 * task's group member when the port closes (the task ended, or its worker thread exited). Main
 * thread only.
 *
 * NOTE: there is no session timeout. A member whose worker stops answering but keeps its port
 * open keeps its partitions until the port closes.
 */
export class BrokerConnection {
  /** Resolves once the port closed and the member left its group. */
  readonly closed: Promise<void>
  readonly #port: MessagePort
  readonly #broker: EmbeddedBroker
  #member: GroupMember | undefined
  #groupId = ''
  #generation = 0
  #fetchRotation = 0
  #parked: { request: FetchRequest, timer: NodeJS.Timeout } | undefined
  #open = true
  #resolveClosed: () => void = () => {}

  constructor (port: MessagePort, broker: EmbeddedBroker) {
    this.#port = port
    this.#broker = broker
    this.closed = new Promise((resolve) => { this.#resolveClosed = resolve })
    port.on('message', (request: BrokerRequest) => { this.#onRequest(request) })
    port.on('close', () => { this.#onClose() })
    // The bus's worker pool keeps the process alive while shards run; this port must not.
    port.unref()
  }

  /** Closes the port from the broker's side. */
  close (): void {
    this.#port.close()
    this.#onClose()
  }

  /** Sends the member's new partitions, and replies to a waiting fetch so the worker fetches from them. */
  onAssignment (generation: number, partitions: AssignedPartition[]): void {
    this.#generation = generation
    this.#send({ type: 'assignment', generation, partitions })
    if (this.#parked !== undefined) this.#answerFetch(this.#unpark())
  }

  /** Replies to a waiting fetch that reads the partition a record was just appended to. */
  onRecordAppended (topic: string, partition: number): void {
    const parked = this.#parked
    if (parked === undefined || this.#member === undefined) return
    if (!this.#member.owned.has(topicPartitionKey(topic, partition))) return
    if (!parked.request.positions.some((position) => position.topic === topic && position.partition === partition)) return
    this.#answerFetch(this.#unpark())
  }

  #onRequest (request: BrokerRequest): void {
    try {
      switch (request.type) {
        case 'join':
          this.#join(request)
          break
        case 'fetch':
          this.#fetch(request)
          break
        case 'commit':
          this.#broker.commit(this.#requireMember('commit', ErrorCode.COMMIT_FAILED), this.#groupId, request.offsets)
          this.#send({ type: 'committed', requestId: request.requestId })
          break
        case 'produce': {
          const results = request.records.map((record) => this.#broker.produce(request.topic, record))
          this.#send({ type: 'produced', requestId: request.requestId, results: results.map(({ partition, offset }) => ({ partition, offset })) })
          break
        }
        case 'leave':
          this.#leave()
          this.#send({ type: 'left', requestId: request.requestId })
          break
      }
    } catch (error) {
      const fallback = request.type === 'commit' ? ErrorCode.COMMIT_FAILED : ErrorCode.BACKEND_FAILED
      this.#send({ type: 'failed', requestId: request.requestId, error: toErrorRecord(error, fallback, this.#groupId === '' ? {} : { groupId: this.#groupId }) })
    }
  }

  #join (request: Extract<BrokerRequest, { type: 'join' }>): void {
    if (this.#member !== undefined) {
      throw new TickbusError(ErrorCode.BACKEND_FAILED, `This connection already joined consumer group ${this.#groupId} as ${this.#member.memberId}; one worker task is one member.`)
    }
    this.#groupId = request.groupId
    // The broker sends the assignment from inside join(), before the reply below, so the worker
    // has its partitions when the join resolves.
    this.#member = this.#broker.join(this, request.groupId, request.topics, request.initialOffset, request.shard)
    this.#send({ type: 'joined', requestId: request.requestId, memberId: this.#member.memberId })
  }

  #fetch (request: FetchRequest): void {
    this.#requireMember('fetch', ErrorCode.BACKEND_FAILED)
    if (this.#parked !== undefined) {
      throw new TickbusError(ErrorCode.BACKEND_FAILED, 'A fetch is already waiting on this connection; send the next fetch after its reply.')
    }
    const batches = this.#read(request)
    if (batches.length > 0 || request.maxWaitMs <= 0) {
      this.#send({ type: 'fetched', requestId: request.requestId, generation: this.#generation, batches })
      return
    }
    const timer = setTimeout(() => { this.#answerFetch(this.#unpark()) }, request.maxWaitMs)
    timer.unref()
    this.#parked = { request, timer }
  }

  #answerFetch (request: FetchRequest | undefined): void {
    if (request === undefined) return
    let batches
    try {
      batches = this.#member === undefined ? [] : this.#read(request)
    } catch (error) {
      this.#send({ type: 'failed', requestId: request.requestId, error: toErrorRecord(error, ErrorCode.BACKEND_FAILED, { groupId: this.#groupId }) })
      return
    }
    this.#send({ type: 'fetched', requestId: request.requestId, generation: this.#generation, batches })
  }

  #read (request: FetchRequest) {
    const rotation = this.#fetchRotation++
    return this.#broker.fetch(this.#member!, request.positions, request, rotation)
  }

  #unpark (): FetchRequest | undefined {
    const parked = this.#parked
    if (parked === undefined) return undefined
    clearTimeout(parked.timer)
    this.#parked = undefined
    return parked.request
  }

  #requireMember (action: string, code: ErrorCode): GroupMember {
    if (this.#member === undefined) {
      throw new TickbusError(code, `Cannot ${action}: this worker task has not joined a consumer group, or has left it. Send join first.`)
    }
    return this.#member
  }

  #leave (): void {
    const member = this.#member
    this.#member = undefined
    this.#answerFetch(this.#unpark())
    if (member !== undefined) this.#broker.leave(member, this.#groupId)
  }

  #onClose (): void {
    if (!this.#open) return
    this.#open = false
    this.#unpark()
    const member = this.#member
    this.#member = undefined
    if (member !== undefined) this.#broker.leave(member, this.#groupId)
    this.#resolveClosed()
  }

  #send (message: BrokerMessage): void {
    if (this.#open) this.#port.postMessage(message)
  }
}
