// Public API of tickbus. This module only re-exports; each layer lives in its own folder.

// Event schemas and views
export { defineEvent, EventType } from './schema/define-event.js'
export type { EventOf, ViewOf, EventObject, EventInput, EventViewOf } from './schema/define-event.js'
export { t, FieldKind } from './schema/fields.js'
export type { FieldSpec, EventSchema, FieldValue } from './schema/fields.js'
export { EventView, isDevMode } from './schema/view.js'

// Codecs
export type { Codec } from './codecs/codec.js'
export { jsonCodec } from './codecs/json.js'
export type { JsonCodec } from './codecs/json.js'
export { protobufCodec } from './codecs/protobuf.js'
export type { ProtobufCodec } from './codecs/protobuf.js'

// Topology
export { createTopology, TopologyBuilder } from './topology/builder.js'
export { jsonDecoder, protobufDecoder, customDecoder } from './topology/decoders.js'
export type { DecoderSpec, MatchSpec, ModuleReferenceInput } from './topology/decoders.js'
export { InitialOffset, Dispatch } from './topology/types.js'
export type { Topology, TopicDescriptor, GroupDescriptor, EventTypeDescriptor, BindingDescriptor } from './topology/types.js'

// Bus
export { createBus, Bus } from './bus/bus.js'
export type { CommitResult, CommitStatistics, StopReport, TickStatistics } from './bus/bus.js'
export type { BusOptions } from './bus/bus-options.js'
export { EventReader } from './bus/event-reader.js'
export { DecodeErrorEvent } from './bus/builtin-events.js'
export { CommitMode } from './bus/messages.js'
export type { PartitionOffset } from './bus/messages.js'

// Writing events to Kafka from the tick
export { createEventWriter, EventWriter } from './bus/event-writer.js'
export type { WriteOptions, EventWriterOptions } from './bus/event-writer.js'
export { DeliveryFailureView } from './bus/delivery-failure.js'
export type { DeliveryFailure } from './bus/delivery-failure.js'
export type { ProducerStatistics, ProducerStopResult, OutboundOptions } from './bus/outbound-channel.js'

// Metrics
export { registerMetrics } from './metrics/register-metrics.js'
export type { RegisterMetricsOptions } from './metrics/register-metrics.js'
export { serveMetrics, busHealth, DEFAULT_METRICS_PORT } from './metrics/serve-metrics.js'
export type { ServeMetricsOptions, MetricsServer, BusHealth, GroupHealth } from './metrics/serve-metrics.js'
export { BusMetrics, RingMetrics, ReaderMetrics } from './metrics/bus-metrics.js'
export { PartitionMetrics } from './metrics/partition-metrics.js'
export type { PartitionSlot } from './metrics/partition-metrics.js'
export { GroupMetrics } from './metrics/group-metrics.js'
export { LagBasis, consumerLag, lagBasis } from './metrics/lag.js'
export type { PartitionOffsets } from './metrics/lag.js'
export { Metric, MetricLabel, DEFAULT_METRIC_PREFIX } from './metrics/metric-names.js'

// Backends
export type { Backend, BackendStartReport } from './backends/backend.js'
export { kafkaBackend, checkKafkaTopology } from './backends/kafka/kafka-backend.js'
export type { KafkaBackendOptions, KafkaClientOptions, KafkaConsumerOptions } from './backends/kafka/options.js'
export type { KafkaProducerOptions } from './backends/kafka/producer-options.js'
export { applyTopology } from './backends/kafka/apply-topology.js'
export type { ApplyTopologyOptions, ApplyTopologyReport } from './backends/kafka/apply-topology.js'

// Embedded backend
export { embeddedBackend, EmbeddedBackend } from './backends/embedded/embedded-backend.js'
export type { EmbeddedRecord } from './backends/embedded/embedded-backend.js'
export type { EmbeddedBackendOptions } from './backends/embedded/options.js'
export type { RecordMetadata } from './backends/embedded/broker.js'

// Writing a backend: the worker-side runtimes and the task shapes they take
export type { WorkerTaskTarget, WorkerTaskResources } from './backends/backend.js'
export { ShardRuntime } from './bus/shard-runtime.js'
export type { DecodeAttempt, ShardBackendHooks } from './bus/shard-runtime.js'
export { ProducerRuntime } from './bus/producer-runtime.js'
export type { ProducerBackend, PartitionBatch, OutgoingMessage, OutgoingHeaders, SendFailure, BatchSettings } from './bus/producer-runtime.js'
export type { IncomingRecord } from './bus/ingest.js'
export { resolveTopology } from './topology/resolve-topology.js'
export type { LiveTopology, LiveTopic, LiveBinding, BindingRecord } from './topology/resolve-topology.js'
export type { ConsumerShardTask, ShardStopReport, ProducerTask, ProducerStopReport, CommitSettings } from './bus/messages.js'

// Errors and logging
export { TickbusError, ErrorCode } from './errors.js'
export type { ErrorRecord } from './errors.js'
export { noopLogger, kafkajsLogCreator } from './logger.js'
export type { Logger, LogLevel } from './logger.js'
