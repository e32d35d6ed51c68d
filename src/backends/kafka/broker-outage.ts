import net from 'node:net'
import tls from 'node:tls'
import type { ISocketFactory } from 'kafkajs'
import { ErrorCode, TickbusError } from '../../errors.js'
import type { ShardRuntime } from '../../bus/shard-runtime.js'

/** TCP keep-alive delay in ms; the value kafkajs 2.2.4's default socket factory sets. */
const KEEP_ALIVE_DELAY_MS = 60_000

/** Callbacks of a {@link BrokerOutageMonitor}, each called once per outage of a broker. */
export interface BrokerOutageListener {
  /** A connection to `broker` (`host:port`) failed while the broker counted as reachable. */
  unreachable (broker: string, error: Error): void
  /** A connection to `broker` succeeded after unreachable() was called for it. */
  reachable (broker: string, downMs: number): void
}

/**
 * Opens kafkajs's sockets as kafkajs's default socket factory does and notifies a listener when a
 * broker stops and starts accepting connections. kafkajs 2.2.4 emits no consumer event for a lost
 * connection. It retries, and emits CRASH only when a request's retries run out or a rejoin
 * fails: against a local broker that took between 0.2 s and 9 s with the default 5 retries.
 *
 * A broker counts as unreachable after a socket error (refused, reset, timed out) or a socket
 * that closed before it connected, and as reachable again at its next successful connect.
 */
export class BrokerOutageMonitor {
  /** Pass as kafkajs's `socketFactory` option. */
  readonly socketFactory: ISocketFactory
  /** Time of the first failure, per broker that counts as unreachable. */
  readonly #unreachableSince = new Map<string, number>()
  readonly #listener: BrokerOutageListener

  constructor (listener: BrokerOutageListener) {
    this.#listener = listener
    this.socketFactory = ({ host, port, ssl, onConnect }) => this.#connect(host, port, ssl, onConnect)
  }

  /** Number of brokers that are unreachable now. */
  get unreachableBrokers (): number {
    return this.#unreachableSince.size
  }

  #connect (host: string, port: number, ssl: tls.ConnectionOptions | undefined, onConnect: () => void): net.Socket {
    const broker = `${host}:${port}`
    const socket = ssl
      ? tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...ssl }, onConnect)
      : net.connect({ host, port }, onConnect)
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS)

    let connected = false
    let lastError: Error | undefined
    socket.once(ssl ? 'secureConnect' : 'connect', () => {
      connected = true
      const since = this.#unreachableSince.get(broker)
      if (since === undefined) return
      this.#unreachableSince.delete(broker)
      this.#listener.reachable(broker, Date.now() - since)
    })
    // kafkajs adds its own error listener, so this one changes nothing about error handling.
    socket.on('error', (error) => {
      lastError = error
      this.#markUnreachable(broker, error)
    })
    socket.once('close', () => {
      if (!connected) this.#markUnreachable(broker, lastError ?? new Error('the connection closed before it was established'))
    })
    return socket
  }

  #markUnreachable (broker: string, error: Error): void {
    if (this.#unreachableSince.has(broker)) return
    this.#unreachableSince.set(broker, Date.now())
    this.#listener.unreachable(broker, error)
  }
}

/**
 * Creates the outage monitor of a consumer shard: it reports each broker outage once, as a
 * retriable BROKER_UNREACHABLE error in bus.errors, and logs at info when the broker is back.
 */
export function reportBrokerOutages (runtime: ShardRuntime): BrokerOutageMonitor {
  return new BrokerOutageMonitor({
    unreachable: (broker, error) => {
      const message = `Lost the connection to Kafka broker ${broker}: ${error.message}. ` +
        'The consumer keeps reconnecting. Records already in the ring are still handed out, and commits wait until the broker responds.'
      runtime.reportError(new TickbusError(ErrorCode.BROKER_UNREACHABLE, message, { retriable: true, cause: error }), ErrorCode.BROKER_UNREACHABLE)
    },
    reachable: (broker, downMs) => {
      runtime.send({ type: 'log', level: 'info', message: 'Kafka broker reachable again', fields: { broker, downMs } })
    },
  })
}
