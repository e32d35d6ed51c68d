/**
 * Names, help texts and label names of every Prometheus metric that registerMetrics() registers.
 * Names carry the default prefix `tickbus_`, which the `prefix` option replaces, and end in the
 * base unit (`_bytes`, `_seconds`) and `_total` for counters.
 *
 * Per-partition consumer-group metrics use kafka_exporter's label names (`consumergroup`, `topic`,
 * `partition`), so `tickbus_consumergroup_lag` works in queries written for kafka_exporter's
 * `kafka_consumergroup_lag`. The other counterparts: `tickbus_consumergroup_committed_offset` is
 * `kafka_consumergroup_current_offset`, `tickbus_consumergroup_high_watermark` is
 * `kafka_topic_partition_current_offset` and `tickbus_consumergroup_log_start_offset` is
 * `kafka_topic_partition_oldest_offset`, here per group because each group's workers report them.
 */

/** Prefix of every name below. */
export const DEFAULT_METRIC_PREFIX = 'tickbus_'

/** Label names. Every label has a bounded set of values: no offsets, keys or ids from payloads. */
export const MetricLabel = {
  CONSUMER_GROUP: 'consumergroup',
  TOPIC: 'topic',
  PARTITION: 'partition',
  SHARD: 'shard',
  EVENT_TYPE: 'event_type',
  DECODER: 'decoder',
  READER: 'reader',
  RESULT: 'result',
} as const

/** Values of the `result` label. */
export const MetricResult = {
  SUCCESS: 'success',
  FAILURE: 'failure',
} as const

/** Upper bounds of the tick drain-time histogram, in seconds: 10 µs to 25 ms. */
export const DRAIN_DURATION_BUCKETS: readonly number[] = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025]

/** One metric: its default name, help text and label names. */
export interface MetricSpec {
  readonly name: string
  readonly help: string
  readonly labels: readonly string[]
}

const GROUP_PARTITION = [MetricLabel.CONSUMER_GROUP, MetricLabel.TOPIC, MetricLabel.PARTITION] as const
const GROUP_SHARD = [MetricLabel.CONSUMER_GROUP, MetricLabel.SHARD] as const

/** Every metric, by a constant key. */
export const Metric = {
  RUNNING: { name: 'tickbus_running', help: 'Whether the bus is started and not stopping (1) or not (0).', labels: [] },
  TICKS: { name: 'tickbus_ticks_total', help: 'Calls of bus.tick().', labels: [] },
  LIMITED_TICKS: { name: 'tickbus_ticks_limited_total', help: 'Ticks that a tick limit (event count or time budget) stopped before the rings were empty.', labels: [] },
  TICK_DRAIN_DURATION: { name: 'tickbus_tick_drain_duration_seconds', help: 'Time one tick spent releasing and claiming records.', labels: [] },
  TICK_IDLE_STREAK: { name: 'tickbus_tick_idle_streak', help: 'Consecutive ticks, up to the last, that handed out no event; 0 after a busy tick.', labels: [] },
  TICK_DRAINED_EVENTS: { name: 'tickbus_tick_drained_events', help: 'Events the last tick handed out, per event type (DecodeError for decode errors).', labels: [MetricLabel.EVENT_TYPE] },
  DRAINED_EVENTS: { name: 'tickbus_drained_events_total', help: 'Events handed out by ticks, per event type (DecodeError for decode errors).', labels: [MetricLabel.EVENT_TYPE] },

  RING_CAPACITY: { name: 'tickbus_ring_capacity_bytes', help: 'Data capacity of a consumer shard\'s inbound ring.', labels: GROUP_SHARD },
  RING_DEPTH_BYTES: { name: 'tickbus_ring_depth_bytes', help: 'Bytes published into the ring and not yet handed out by a tick, as of the last tick.', labels: GROUP_SHARD },
  RING_DEPTH_EVENTS: { name: 'tickbus_ring_depth_events', help: 'Records published into the ring and not yet handed out by a tick, as of the last tick.', labels: GROUP_SHARD },
  RING_USED_BYTES: { name: 'tickbus_ring_used_bytes', help: 'Bytes published into the ring and not yet released: the depth plus what live ticks hold.', labels: GROUP_SHARD },
  RING_WRITTEN_RECORDS: { name: 'tickbus_ring_written_records_total', help: 'Records the worker published into the ring.', labels: GROUP_SHARD },
  RING_FULL: { name: 'tickbus_ring_full_total', help: 'Worker writes that found the ring full (back-pressure).', labels: GROUP_SHARD },

  LAG: { name: 'tickbus_consumergroup_lag', help: 'Records between the committed offset and the high watermark; without a commit, see the README for the rule.', labels: GROUP_PARTITION },
  HIGH_WATERMARK: { name: 'tickbus_consumergroup_high_watermark', help: 'Offset after the last record of the partition, from fetch responses and broker refreshes.', labels: GROUP_PARTITION },
  LOG_START_OFFSET: { name: 'tickbus_consumergroup_log_start_offset', help: 'Oldest offset the broker retains, from broker refreshes.', labels: GROUP_PARTITION },
  COMMITTED_OFFSET: { name: 'tickbus_consumergroup_committed_offset', help: 'The group\'s committed offset: the next offset to read.', labels: GROUP_PARTITION },
  POSITION: { name: 'tickbus_consumergroup_position', help: 'Offset after the last record the group\'s worker processed.', labels: GROUP_PARTITION },
  LAST_DRAINED_OFFSET: { name: 'tickbus_consumergroup_last_drained_offset', help: 'Offset of the last record a tick handed out.', labels: GROUP_PARTITION },
  DRAINED_RECORDS: { name: 'tickbus_consumergroup_drained_records_total', help: 'Records (events and decode errors) that ticks handed out.', labels: GROUP_PARTITION },
  FETCHED_RECORDS: { name: 'tickbus_consumergroup_fetched_records_total', help: 'Fetched records the group\'s workers processed.', labels: GROUP_PARTITION },
  FETCHED_BYTES: { name: 'tickbus_consumergroup_fetched_bytes_total', help: 'Key and value bytes of the fetched records the group\'s workers processed.', labels: GROUP_PARTITION },

  ASSIGNED_PARTITIONS: { name: 'tickbus_consumergroup_assigned_partitions', help: 'Partitions a consumer shard owns by its last assignment.', labels: GROUP_SHARD },
  COMMITS: { name: 'tickbus_consumergroup_commits_total', help: 'Offset commits, by result.', labels: [MetricLabel.CONSUMER_GROUP, MetricLabel.RESULT] },
  COMMIT_DURATION: { name: 'tickbus_consumergroup_commit_duration_seconds_total', help: 'Time spent in offset commits, succeeded or failed, summed.', labels: [MetricLabel.CONSUMER_GROUP] },
  OFFSET_REFRESHES: { name: 'tickbus_consumergroup_offset_refreshes_total', help: 'Broker offset refreshes (log start, high watermark, committed offset) by the workers, by result.', labels: [MetricLabel.CONSUMER_GROUP, MetricLabel.RESULT] },
  UNTRACKED_RECORDS: { name: 'tickbus_consumergroup_untracked_records_total', help: 'Records of partitions beyond the topology\'s declared partition count, which have no per-partition metrics.', labels: [MetricLabel.CONSUMER_GROUP] },
  DECODE_FAILURES: { name: 'tickbus_decode_failures_total', help: 'Decode attempts that threw, per binding (topic, event type, decoder), match predicates included.', labels: [MetricLabel.CONSUMER_GROUP, MetricLabel.TOPIC, MetricLabel.EVENT_TYPE, MetricLabel.DECODER] },
  DECODE_ERROR_RECORDS: { name: 'tickbus_decode_error_records_total', help: 'Records that no binding decoded, delivered as decode errors.', labels: [MetricLabel.CONSUMER_GROUP, MetricLabel.TOPIC] },

  READER_MISSED_EVENTS: { name: 'tickbus_reader_missed_events_total', help: 'Events released before the reader read them.', labels: [MetricLabel.EVENT_TYPE, MetricLabel.READER] },

  PRODUCER_WRITTEN: { name: 'tickbus_producer_written_events_total', help: 'Events the tick wrote into the outbound ring.', labels: [] },
  PRODUCER_REJECTED: { name: 'tickbus_producer_rejected_writes_total', help: 'Writes rejected because the outbound ring was full.', labels: [] },
  PRODUCER_PENDING: { name: 'tickbus_producer_pending_events', help: 'Events written and not settled yet: neither delivered nor reported as failed.', labels: [] },
  PRODUCER_IN_FLIGHT: { name: 'tickbus_producer_in_flight_events', help: 'Events the producer worker has read from the ring and not settled yet.', labels: [] },
  PRODUCER_IN_FLIGHT_BYTES: { name: 'tickbus_producer_in_flight_bytes', help: 'Worker memory that the in-flight events hold.', labels: [] },
  PRODUCER_DELIVERED: { name: 'tickbus_producer_delivered_events_total', help: 'Events the broker acknowledged (with acks=0: sent).', labels: [] },
  PRODUCER_FAILED: { name: 'tickbus_producer_failed_events_total', help: 'Events reported as delivery failures.', labels: [] },
  PRODUCER_RETRIES: { name: 'tickbus_producer_retries_total', help: 'Send attempts repeated after a retriable error.', labels: [] },
  PRODUCER_SENDS: { name: 'tickbus_producer_sends_total', help: 'Successful produce calls, one per partition batch.', labels: [] },
} as const satisfies Record<string, MetricSpec>

export type MetricKey = keyof typeof Metric
