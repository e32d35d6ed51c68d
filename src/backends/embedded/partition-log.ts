import type { BrokerRecord } from './protocol.js'

/** Retention of one partition log. */
export interface RetentionSettings {
  /** Records a partition keeps at most; older ones are removed first. Infinity keeps all. */
  readonly maxRecords: number
  /** Age in ms after which a record, by its timestamp, is removed. Infinity keeps all. */
  readonly maxAgeMs: number
}

/** Result of read(): the records and the offset where the next read starts. */
export interface LogRead {
  readonly records: BrokerRecord[]
  /** Offset after the last record returned; equals the requested offset when none was. */
  readonly nextOffset: number
  /** Bytes of key, value and header values of the returned records. */
  readonly bytes: number
}

/** Arrays shorter than this are never compacted; removed records stay as holes until then. */
const COMPACT_MIN_HOLES = 1024

/**
 * One partition of an embedded topic: an append-only list of records with offsets counting up
 * from 0, trimmed at the front by retention. Main thread only.
 *
 * Retention removes records from the front only, so the offsets that remain are always the
 * range [logStartOffset, endOffset). The age rule, like Kafka's, removes a prefix: a record
 * stays while an older-offset record before it has not expired yet, even if its own timestamp
 * is older. Retention runs on every append and every read, not on a timer.
 */
export class PartitionLog {
  readonly retention: RetentionSettings
  /** Records from offset `#baseOffset`; indexes below `#head` are removed. */
  #records: BrokerRecord[] = []
  #head = 0
  #baseOffset = 0

  constructor (retention: RetentionSettings) {
    this.retention = retention
  }

  /** Offset of the oldest record still kept (equals endOffset when the log is empty). */
  get logStartOffset (): number {
    return this.#baseOffset + this.#head
  }

  /** Offset the next appended record gets; Kafka's high watermark of a single-replica log. */
  get endOffset (): number {
    return this.#baseOffset + this.#records.length
  }

  /** Records kept now. */
  get size (): number {
    return this.#records.length - this.#head
  }

  /** Appends a record and returns its offset. The record arrays are stored, not copied. */
  append (record: Omit<BrokerRecord, 'offset'>, nowMs: number): number {
    const offset = this.endOffset
    this.#records.push({ offset, timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers })
    this.applyRetention(nowMs)
    return offset
  }

  /**
   * Returns records from `offset` on, at most `maxRecords` and at most `maxBytes` in total. With
   * `firstMayExceed`, the first record is returned whatever its size, so that a record larger
   * than a fetch's byte limit still gets through on its own (as in Kafka). Throws RangeError
   * unless `offset` is within [logStartOffset, endOffset]; call applyRetention() first.
   */
  read (offset: number, maxRecords: number, maxBytes: number, firstMayExceed: boolean): LogRead {
    const records: BrokerRecord[] = []
    let bytes = 0
    let index = offset - this.#baseOffset
    if (index < this.#head || offset > this.endOffset) {
      throw new RangeError(`Offset ${offset} is outside the log's range [${this.logStartOffset}, ${this.endOffset}]`)
    }
    while (index < this.#records.length && records.length < maxRecords) {
      const record = this.#records[index]!
      const size = recordBytes(record)
      if (bytes + size > maxBytes && !(firstMayExceed && records.length === 0)) break
      records.push(record)
      bytes += size
      index++
    }
    return { records, nextOffset: offset + records.length, bytes }
  }

  /** Removes the records that retention no longer keeps. */
  applyRetention (nowMs: number): void {
    const { maxRecords, maxAgeMs } = this.retention
    let head = this.#head
    const length = this.#records.length
    if (length - head > maxRecords) head = length - maxRecords
    if (maxAgeMs !== Number.POSITIVE_INFINITY) {
      const oldestKept = nowMs - maxAgeMs
      while (head < length && this.#records[head]!.timestamp < oldestKept) head++
    }
    if (head === this.#head) return
    this.#head = head
    this.#compact()
  }

  #compact (): void {
    const holes = this.#head
    if (holes < COMPACT_MIN_HOLES || holes < this.#records.length / 2) return
    this.#records = this.#records.slice(holes)
    this.#baseOffset += holes
    this.#head = 0
  }
}

/** Bytes a record counts against a fetch's maxBytes: key, value, header names and values. */
export function recordBytes (record: BrokerRecord): number {
  let bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0)
  for (const [name, value] of record.headers) bytes += Buffer.byteLength(name, 'utf8') + (value?.length ?? 0)
  return bytes
}
