import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import type { Bus } from '../bus/bus.js'
import { invalidOption } from '../errors.js'
import { registerMetrics } from './register-metrics.js'

/** Suggested metrics port, used by the demo: the default of OpenTelemetry's Prometheus exporters (OTEL_EXPORTER_PROMETHEUS_PORT). */
export const DEFAULT_METRICS_PORT = 9464

/** Options of serveMetrics(). */
export interface ServeMetricsOptions {
  /** TCP port; 0 lets the OS pick a free one (see MetricsServer.port). Required. */
  port: number
  /** Address to listen on. Default `127.0.0.1`, so the endpoint is not reachable from other hosts. */
  host?: string
  /**
   * Registry served on /metrics. Default: a new Registry with registerMetrics(bus). A registry
   * passed here is served as it is, so register the bus's metrics on it first.
   */
  registry?: Registry
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** Port the server listens on, also when the option was 0. */
  readonly port: number
  readonly host: string
  /** Base URL, such as `http://127.0.0.1:9464`. */
  readonly url: string
  /** Stops accepting connections, closes idle ones and resolves when the server has closed. */
  close (): Promise<void>
}

/** Per consumer group, what the /health body reports. */
export interface GroupHealth {
  readonly groupId: string
  /** Partitions the topology declares for the group's topics. */
  readonly partitions: number
  /** Of those, partitions some shard of the group owns by its last assignment. */
  readonly assignedPartitions: number
  readonly shards: ReadonlyArray<{ readonly shard: number, readonly assignedPartitions: number }>
}

/** Body of the /health response. */
export interface BusHealth {
  /** `ok` when the bus runs and every group owns at least one partition, else `unavailable`. */
  readonly status: 'ok' | 'unavailable'
  readonly running: boolean
  readonly groups: readonly GroupHealth[]
}

/**
 * Returns the bus's health: whether it runs and which partitions each consumer group's shards
 * own. A group owns none while it joins or rebalances and after its shards crashed. Main thread.
 */
export function busHealth (bus: Bus): BusHealth {
  const partitions = bus.metrics.partitions
  const groups = bus.metrics.groups.map((group) => {
    const shards = group.shards.map((shard) => ({ shard, assignedPartitions: partitions.assignedPartitions(shard) }))
    const declared = partitions.slots.filter((slot) => slot.groupId === group.groupId).length
    return {
      groupId: group.groupId,
      partitions: declared,
      assignedPartitions: shards.reduce((sum, shard) => sum + shard.assignedPartitions, 0),
      shards,
    }
  })
  const ok = bus.running && groups.every((group) => group.assignedPartitions > 0)
  return { status: ok ? 'ok' : 'unavailable', running: bus.running, groups }
}

/**
 * Serves `GET /metrics` (Prometheus text format) and `GET /health` (BusHealth as JSON: status 200
 * when `status` is `ok`, 503 otherwise) over HTTP, and resolves once the server listens. Other
 * paths return 404 and other methods 405. Errors while collecting are logged on the bus's logger
 * and returned as status 500. Main thread.
 *
 * Throws INVALID_OPTION for a port outside 0-65535 or an empty host. Rejects with Node's listen
 * error (such as EADDRINUSE) when the port cannot be bound.
 */
export async function serveMetrics (bus: Bus, options: ServeMetricsOptions): Promise<MetricsServer> {
  const port = options.port
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidOption('port', 'must be an integer from 0 to 65535', port)
  const host = options.host ?? '127.0.0.1'
  if (typeof host !== 'string' || host.length === 0) throw invalidOption('host', 'must be a non-empty host name or address', host)
  const registry = options.registry ?? registerMetrics(bus)
  const logger = bus.logger.child({ component: 'metrics-server' })

  const server = createServer((request, response) => {
    void handle(bus, registry, request, response).catch((error: unknown) => {
      logger.error({ err: error, path: request.url }, 'metrics request failed')
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      response.end('Internal error while collecting metrics; see the server log.\n')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (error) => { logger.error({ err: error, host, port }, 'metrics server error') })

  const address = server.address() as AddressInfo
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  logger.info({ host: address.address, port: address.port }, 'metrics server listening')
  return {
    port: address.port,
    host: address.address,
    url: `http://${urlHost}:${address.port}`,
    close: async () => {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => { if (error === undefined) resolve(); else reject(error) })
        server.closeIdleConnections()
      })
      logger.info({ host: address.address, port: address.port }, 'metrics server stopped')
    },
  }
}

async function handle (bus: Bus, registry: Registry, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?', 1)[0]
  if (path !== '/metrics' && path !== '/health') {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    response.end('Not found. Use /metrics or /health.\n')
    return
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
    response.end(`Method ${request.method ?? ''} not allowed. Use GET.\n`)
    return
  }
  if (path === '/metrics') {
    const body = await registry.metrics()
    response.writeHead(200, { 'content-type': registry.contentType })
    response.end(request.method === 'HEAD' ? undefined : body)
    return
  }
  const health = busHealth(bus)
  response.writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
  response.end(request.method === 'HEAD' ? undefined : JSON.stringify(health))
}
