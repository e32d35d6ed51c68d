/**
 * Error codes used by every tickbus error. Recognise errors by `code`, never by prototype: an error
 * that crossed a worker boundary arrives as a plain object and is rebuilt with {@link fromErrorRecord}.
 */
export const ErrorCode = {
  INVALID_OPTION: 'TICKBUS_INVALID_OPTION',
  INVALID_SCHEMA: 'TICKBUS_INVALID_SCHEMA',
  INVALID_TOPOLOGY: 'TICKBUS_INVALID_TOPOLOGY',
  TOPOLOGY_MISMATCH: 'TICKBUS_TOPOLOGY_MISMATCH',
  RECORD_TOO_LARGE: 'TICKBUS_RECORD_TOO_LARGE',
  VIEW_RELEASED: 'TICKBUS_VIEW_RELEASED',
  DECODE_FAILED: 'TICKBUS_DECODE_FAILED',
  ENCODE_FAILED: 'TICKBUS_ENCODE_FAILED',
  RING_FULL: 'TICKBUS_RING_FULL',
  DELIVERY_FAILED: 'TICKBUS_DELIVERY_FAILED',
  BROKER_UNREACHABLE: 'TICKBUS_BROKER_UNREACHABLE',
  WORKER_CRASHED: 'TICKBUS_WORKER_CRASHED',
  COMMIT_FAILED: 'TICKBUS_COMMIT_FAILED',
  NOT_RUNNING: 'TICKBUS_NOT_RUNNING',
  STOP_TIMEOUT: 'TICKBUS_STOP_TIMEOUT',
  BACKEND_FAILED: 'TICKBUS_BACKEND_FAILED',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Context fields that locate an error in the stream. */
export interface ErrorContext {
  topic?: string
  partition?: number
  offset?: number
  groupId?: string
  worker?: number
  option?: string
}

export interface TickbusErrorOptions extends ErrorContext {
  retriable?: boolean
  cause?: unknown
}

/** Base class of every error tickbus throws or reports. */
export class TickbusError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly topic: string | undefined
  readonly partition: number | undefined
  readonly offset: number | undefined
  readonly groupId: string | undefined
  readonly worker: number | undefined
  readonly option: string | undefined

  constructor (code: ErrorCode, message: string, options: TickbusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TickbusError'
    this.code = code
    this.retriable = options.retriable ?? false
    this.topic = options.topic
    this.partition = options.partition
    this.offset = options.offset
    this.groupId = options.groupId
    this.worker = options.worker
    this.option = options.option
  }
}

/** Plain form of an error, as workers send it through postMessage or write it into a ring. */
export interface ErrorRecord extends ErrorContext {
  code: ErrorCode
  message: string
  retriable: boolean
  causeMessage?: string
}

/** Converts any thrown value into the plain form that survives structured clone. */
export function toErrorRecord (error: unknown, fallbackCode: ErrorCode, context: ErrorContext = {}): ErrorRecord {
  if (error instanceof TickbusError) {
    const record: ErrorRecord = { ...context, code: error.code, message: error.message, retriable: error.retriable }
    copyContext(error, record)
    if (error.cause instanceof Error) record.causeMessage = error.cause.message
    return record
  }
  const message = error instanceof Error ? error.message : String(error)
  const retriable = typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true
  return { ...context, code: fallbackCode, message, retriable }
}

/** Rebuilds a {@link TickbusError} from its plain form. */
export function fromErrorRecord (record: ErrorRecord): TickbusError {
  const options: TickbusErrorOptions = { retriable: record.retriable }
  copyContext(record, options)
  if (record.causeMessage !== undefined) options.cause = new Error(record.causeMessage)
  return new TickbusError(record.code, record.message, options)
}

/** Context fields as an error instance holds them: each may be undefined. */
type ContextSource = { readonly [K in keyof ErrorContext]?: ErrorContext[K] | undefined }

function copyContext (from: ContextSource, to: ErrorContext): void {
  if (from.topic !== undefined) to.topic = from.topic
  if (from.partition !== undefined) to.partition = from.partition
  if (from.offset !== undefined) to.offset = from.offset
  if (from.groupId !== undefined) to.groupId = from.groupId
  if (from.worker !== undefined) to.worker = from.worker
  if (from.option !== undefined) to.option = from.option
}

/** Builds the error thrown for an invalid option: names the option path, the rule and the value. */
export function invalidOption (path: string, rule: string, value: unknown): TickbusError {
  return new TickbusError(ErrorCode.INVALID_OPTION, `Invalid option ${path}: ${rule}, received ${describeValue(value)}.`, { option: path })
}

/** Formats a received value for an error message, short and unambiguous. */
export function describeValue (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value)
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || value === undefined || typeof value !== 'object') return String(value)
  if (Array.isArray(value)) return `an array of length ${value.length}`
  return `an object with keys [${Object.keys(value).slice(0, 8).join(', ')}]`
}
