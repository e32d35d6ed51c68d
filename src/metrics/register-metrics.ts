import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { invalidOption } from '../errors.js'
import type { Bus } from '../bus/bus.js'
import { DEFAULT_METRIC_PREFIX, DRAIN_DURATION_BUCKETS, Metric, MetricResult, type MetricSpec } from './metric-names.js'

/** Options of registerMetrics(). */
export interface RegisterMetricsOptions {
  /** prom-client Registry to register on. Default: a new Registry. */
  registry?: Registry
  /**
   * Replaces the `tickbus_` prefix of every metric name, for example to register two buses on one
   * registry. Must match `[a-zA-Z_:][a-zA-Z0-9_:]*`. Default `tickbus_`.
   */
  prefix?: string
}

type Labels = Record<string, string | number>
type Emit = (labels: Labels, value: number) => void

const PREFIX_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/**
 * Registers the bus's metrics (listed in metric-names.ts and the README) on a prom-client
 * Registry and returns the registry. Every value is read at scrape time from `bus.metrics`, which
 * reads the rings' control words and the workers' stats buffers, so registering adds no work to
 * tick(). The topology and the bus's shards and readers fix the label sets, so the number of
 * series is bounded. Main thread.
 *
 * Throws INVALID_OPTION for an invalid prefix, and prom-client's error when a metric of the same
 * name is already registered on the registry.
 */
export function registerMetrics (bus: Bus, options: RegisterMetricsOptions = {}): Registry {
  const registry = options.registry ?? new Registry()
  const prefix = options.prefix ?? DEFAULT_METRIC_PREFIX
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) throw invalidOption('prefix', 'must match [a-zA-Z_:][a-zA-Z0-9_:]*', prefix)
  const name = (spec: MetricSpec): string => prefix + spec.name.slice(DEFAULT_METRIC_PREFIX.length)
  const metrics = bus.metrics

  // Each collect() resets the metric and sets every series again, so a series whose value became
  // unknown (such as lag during a rebalance) disappears instead of keeping a stale value.
  const gauge = (spec: MetricSpec, collect: (emit: Emit) => void): void => {
    new Gauge({
      name: name(spec),
      help: spec.help,
      labelNames: spec.labels,
      registers: [registry],
      collect () {
        this.reset()
        collect((labels, value) => { this.set(labels, value) })
      },
    })
  }
  const counter = (spec: MetricSpec, collect: (emit: Emit) => void): void => {
    new Counter({
      name: name(spec),
      help: spec.help,
      labelNames: spec.labels,
      registers: [registry],
      collect () {
        this.reset()
        collect((labels, value) => { this.inc(labels, value) })
      },
    })
  }

  // Label objects are built once: the slots, rings, bindings and event types do not change.
  const slotLabels = metrics.partitions.slots.map((slot) => ({ consumergroup: slot.groupId, topic: slot.topic, partition: slot.partition }))
  const ringLabels = (): Labels[] => metrics.rings.map((ring) => ({ consumergroup: ring.groupId, shard: ring.shard }))
  const typeLabels = metrics.eventTypes.map((eventType) => ({ event_type: eventType }))
  const NO_LABELS: Labels = {}

  gauge(Metric.RUNNING, (emit) => { emit(NO_LABELS, bus.running ? 1 : 0) })
  counter(Metric.TICKS, (emit) => { emit(NO_LABELS, metrics.tick.tick) })
  counter(Metric.LIMITED_TICKS, (emit) => { emit(NO_LABELS, metrics.limitedTicks) })
  let drainCursor = 0
  new Histogram({
    name: name(Metric.TICK_DRAIN_DURATION),
    help: Metric.TICK_DRAIN_DURATION.help,
    buckets: [...DRAIN_DURATION_BUCKETS],
    registers: [registry],
    collect () {
      drainCursor = metrics.visitDrainDurations(drainCursor, (seconds) => { this.observe(seconds) })
    },
  })
  gauge(Metric.TICK_IDLE_STREAK, (emit) => { emit(NO_LABELS, metrics.tick.idleStreak) })
  gauge(Metric.TICK_DRAINED_EVENTS, (emit) => {
    for (let type = 0; type < typeLabels.length; type++) emit(typeLabels[type]!, metrics.drainedPerType[type]!)
  })
  counter(Metric.DRAINED_EVENTS, (emit) => {
    for (let type = 0; type < typeLabels.length; type++) emit(typeLabels[type]!, metrics.drainedTotalPerType[type]!)
  })

  const perRing = (spec: MetricSpec, read: (ring: (typeof metrics.rings)[number]) => number, kind: 'gauge' | 'counter'): void => {
    const collect = (emit: Emit): void => {
      const labels = ringLabels()
      for (let i = 0; i < metrics.rings.length; i++) emit(labels[i]!, read(metrics.rings[i]!))
    }
    if (kind === 'gauge') gauge(spec, collect)
    else counter(spec, collect)
  }
  perRing(Metric.RING_CAPACITY, (ring) => ring.capacityBytes, 'gauge')
  perRing(Metric.RING_DEPTH_BYTES, (ring) => ring.depthBytes, 'gauge')
  perRing(Metric.RING_DEPTH_EVENTS, (ring) => ring.depthEvents, 'gauge')
  perRing(Metric.RING_USED_BYTES, (ring) => ring.usedBytes, 'gauge')
  perRing(Metric.RING_WRITTEN_RECORDS, (ring) => ring.recordsWritten, 'counter')
  perRing(Metric.RING_FULL, (ring) => ring.fullTotal, 'counter')

  const partitions = metrics.partitions
  // Offsets and lag appear only once known (not -1), so a partition has no series before its
  // first fetch response or broker refresh.
  const perKnownSlot = (spec: MetricSpec, read: (slot: number) => number): void => {
    gauge(spec, (emit) => {
      for (let slot = 0; slot < partitions.size; slot++) {
        const value = read(slot)
        if (value >= 0) emit(slotLabels[slot]!, value)
      }
    })
  }
  const perSlotCounter = (spec: MetricSpec, read: (slot: number) => number): void => {
    counter(spec, (emit) => {
      for (let slot = 0; slot < partitions.size; slot++) emit(slotLabels[slot]!, read(slot))
    })
  }
  perKnownSlot(Metric.LAG, (slot) => partitions.lag(slot))
  perKnownSlot(Metric.HIGH_WATERMARK, (slot) => partitions.highWatermark(slot))
  perKnownSlot(Metric.LOG_START_OFFSET, (slot) => partitions.logStartOffset(slot))
  perKnownSlot(Metric.COMMITTED_OFFSET, (slot) => partitions.committedOffset(slot))
  perKnownSlot(Metric.POSITION, (slot) => partitions.position(slot))
  perKnownSlot(Metric.LAST_DRAINED_OFFSET, (slot) => partitions.lastDrainedOffset[slot]!)
  perSlotCounter(Metric.DRAINED_RECORDS, (slot) => partitions.drainedTotal(slot))
  perSlotCounter(Metric.FETCHED_RECORDS, (slot) => partitions.recordsFetched(slot))
  perSlotCounter(Metric.FETCHED_BYTES, (slot) => partitions.bytesFetched(slot))

  gauge(Metric.ASSIGNED_PARTITIONS, (emit) => {
    const labels = ringLabels()
    for (let i = 0; i < metrics.rings.length; i++) emit(labels[i]!, partitions.assignedPartitions(metrics.rings[i]!.shard))
  })
  counter(Metric.COMMITS, (emit) => {
    for (const group of metrics.groups) {
      emit({ consumergroup: group.groupId, result: MetricResult.SUCCESS }, group.commitsSucceeded())
      emit({ consumergroup: group.groupId, result: MetricResult.FAILURE }, group.commitsFailed())
    }
  })
  counter(Metric.COMMIT_DURATION, (emit) => {
    for (const group of metrics.groups) emit({ consumergroup: group.groupId }, group.commitSeconds())
  })
  counter(Metric.OFFSET_REFRESHES, (emit) => {
    for (const group of metrics.groups) {
      emit({ consumergroup: group.groupId, result: MetricResult.SUCCESS }, group.offsetRefreshes(true))
      emit({ consumergroup: group.groupId, result: MetricResult.FAILURE }, group.offsetRefreshes(false))
    }
  })
  counter(Metric.UNTRACKED_RECORDS, (emit) => {
    for (const group of metrics.groups) emit({ consumergroup: group.groupId }, group.untrackedRecords())
  })
  counter(Metric.DECODE_FAILURES, (emit) => {
    for (const group of metrics.groups) {
      for (let i = 0; i < group.bindings.length; i++) {
        const binding = group.bindings[i]!
        emit({ consumergroup: group.groupId, topic: binding.topic, event_type: binding.eventType, decoder: binding.decoder }, group.decodeFailures(i))
      }
    }
  })
  counter(Metric.DECODE_ERROR_RECORDS, (emit) => {
    for (const group of metrics.groups) {
      for (let i = 0; i < group.topics.length; i++) emit({ consumergroup: group.groupId, topic: group.topics[i]! }, group.decodeErrorRecords(i))
    }
  })

  counter(Metric.READER_MISSED_EVENTS, (emit) => {
    for (const reader of metrics.readers) emit({ event_type: reader.eventType, reader: reader.name }, reader.missed)
  })

  const producerFigure = (spec: MetricSpec, read: (statistics: ReturnType<Bus['producerStatistics']>) => number, kind: 'gauge' | 'counter'): void => {
    const collect = (emit: Emit): void => { emit(NO_LABELS, read(bus.producerStatistics())) }
    if (kind === 'gauge') gauge(spec, collect)
    else counter(spec, collect)
  }
  producerFigure(Metric.PRODUCER_WRITTEN, (statistics) => statistics.written, 'counter')
  producerFigure(Metric.PRODUCER_REJECTED, (statistics) => statistics.rejected, 'counter')
  producerFigure(Metric.PRODUCER_PENDING, (statistics) => statistics.pending, 'gauge')
  producerFigure(Metric.PRODUCER_IN_FLIGHT, (statistics) => statistics.inFlight, 'gauge')
  producerFigure(Metric.PRODUCER_IN_FLIGHT_BYTES, (statistics) => statistics.inFlightBytes, 'gauge')
  producerFigure(Metric.PRODUCER_DELIVERED, (statistics) => statistics.delivered, 'counter')
  producerFigure(Metric.PRODUCER_FAILED, (statistics) => statistics.failed, 'counter')
  producerFigure(Metric.PRODUCER_RETRIES, (statistics) => statistics.retries, 'counter')
  producerFigure(Metric.PRODUCER_SENDS, (statistics) => statistics.sends, 'counter')
  return registry
}
