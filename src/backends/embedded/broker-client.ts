import type { MessagePort } from 'node:worker_threads'
import { ErrorCode, TickbusError, fromErrorRecord } from '../../errors.js'
import type { PartitionOffset } from '../../bus/messages.js'
import type { BrokerMessage, BrokerRequest, FetchPosition, ProduceRecord } from './protocol.js'

type Reply = Exclude<BrokerMessage, { type: 'assignment' | 'failed' }>
type ReplyOf<T extends Reply['type']> = Extract<Reply, { type: T }>
type Assignment = Extract<BrokerMessage, { type: 'assignment' }>

/** Distributes `Omit` over a union, so each request type keeps its own fields. */
type WithoutRequestId<T> = T extends unknown ? Omit<T, 'requestId'> : never

interface PendingRequest {
  readonly expected: Reply['type']
  readonly resolve: (reply: Reply) => void
  readonly reject: (error: unknown) => void
}

/**
 * The worker end of a task's MessagePort to the embedded broker: sends requests and resolves
 * each with its reply. Rejects with the broker's error rebuilt as a TickbusError when the broker
 * replies `failed`, and rejects every open request with BACKEND_FAILED when the port closes.
 * Worker thread only; one client per port.
 */
export class BrokerClient {
  /** Called with each assignment the broker sends, before the reply that follows it resolves. */
  onAssignment: (assignment: Assignment) => void = () => {}
  readonly #port: MessagePort
  readonly #pending = new Map<number, PendingRequest>()
  #nextRequestId = 1
  #closed = false

  constructor (port: MessagePort) {
    this.#port = port
    port.on('message', (message: BrokerMessage) => { this.#onMessage(message) })
    port.on('close', () => { this.#onClose() })
  }

  join (groupId: string, topics: readonly string[], initialOffset: 'earliest' | 'latest', shard: number): Promise<ReplyOf<'joined'>> {
    return this.#request({ type: 'join', groupId, topics, initialOffset, shard }, 'joined')
  }

  fetch (positions: readonly FetchPosition[], limits: { maxRecords: number, maxBytes: number, maxWaitMs: number }): Promise<ReplyOf<'fetched'>> {
    return this.#request({ type: 'fetch', positions, maxRecords: limits.maxRecords, maxBytes: limits.maxBytes, maxWaitMs: limits.maxWaitMs }, 'fetched')
  }

  commit (offsets: readonly PartitionOffset[]): Promise<ReplyOf<'committed'>> {
    return this.#request({ type: 'commit', offsets }, 'committed')
  }

  produce (topic: string, records: readonly ProduceRecord[]): Promise<ReplyOf<'produced'>> {
    return this.#request({ type: 'produce', topic, records }, 'produced')
  }

  leave (): Promise<ReplyOf<'left'>> {
    return this.#request({ type: 'leave' }, 'left')
  }

  /** Closes the port; the broker then removes this task's member from its group. */
  close (): void {
    this.#port.close()
    this.#onClose()
  }

  #request<T extends Reply['type']> (body: WithoutRequestId<BrokerRequest>, expected: T): Promise<ReplyOf<T>> {
    if (this.#closed) {
      return Promise.reject(new TickbusError(ErrorCode.BACKEND_FAILED, `Cannot send ${body.type} to the embedded broker: the connection is closed.`, { retriable: true }))
    }
    const requestId = this.#nextRequestId++
    return new Promise<ReplyOf<T>>((resolve, reject) => {
      this.#pending.set(requestId, { expected, resolve: resolve as (reply: Reply) => void, reject })
      this.#port.postMessage({ ...body, requestId } as BrokerRequest)
    })
  }

  #onMessage (message: BrokerMessage): void {
    if (message.type === 'assignment') {
      this.onAssignment(message)
      return
    }
    const pending = this.#pending.get(message.requestId)
    if (pending === undefined) return
    this.#pending.delete(message.requestId)
    if (message.type === 'failed') {
      pending.reject(fromErrorRecord(message.error))
    } else if (message.type !== pending.expected) {
      pending.reject(new TickbusError(ErrorCode.BACKEND_FAILED, `The embedded broker replied to request ${message.requestId} with ${message.type}, expected ${pending.expected}.`))
    } else {
      pending.resolve(message)
    }
  }

  #onClose (): void {
    if (this.#closed) return
    this.#closed = true
    const error = new TickbusError(ErrorCode.BACKEND_FAILED, 'The connection to the embedded broker closed before it answered. The backend or its bus stopped.', { retriable: true })
    for (const pending of this.#pending.values()) pending.reject(error)
    this.#pending.clear()
  }
}
