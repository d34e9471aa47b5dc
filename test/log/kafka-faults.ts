/**
 * Real network faults for Kafka tests: a kafkajs socket factory whose sockets can be cut at the
 * moment kafkajs writes a request of a chosen API (the request never reaches the broker, and
 * kafkajs sees the connection close), and fake kafkajs protocol errors.
 */
import { connect, type Socket } from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/** Kafka API keys used by the tests. */
export const API = { Produce: 0, OffsetCommit: 8, AddPartitionsToTxn: 24, AddOffsetsToTxn: 25, EndTxn: 26, TxnOffsetCommit: 28 } as const;

export interface FaultySockets {
  socketFactory: ISocketFactory;
  /** Cut the connection the next `times` times a request with this API key is written. */
  cutOn(apiKey: number, times?: number): void;
  /** How many requests of each API key were cut so far. */
  cuts: Map<number, number>;
}

export function faultySockets(): FaultySockets {
  const armed = new Map<number, number>();
  const cuts = new Map<number, number>();
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket: Socket = connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
    (socket as unknown as { write: (chunk: unknown, ...rest: unknown[]) => boolean }).write = (chunk: unknown, ...rest: unknown[]) => {
      if (Buffer.isBuffer(chunk) && chunk.length >= 6) {
        const apiKey = chunk.readInt16BE(4);
        const left = armed.get(apiKey) ?? 0;
        if (left > 0) {
          armed.set(apiKey, left - 1);
          cuts.set(apiKey, (cuts.get(apiKey) ?? 0) + 1);
          socket.destroy(new Error(`test fault: connection cut at a request with API key ${apiKey}`));
          return false;
        }
      }
      return write(chunk, ...rest);
    };
    return socket;
  };
  return {
    socketFactory,
    cuts,
    cutOn(apiKey, times = 1) {
      armed.set(apiKey, (armed.get(apiKey) ?? 0) + times);
    },
  };
}

/** An error shaped like the one kafkajs throws for a broker error code. */
export function protocolError(type: string, code: number, message: string): Error {
  return Object.assign(new Error(message), { name: 'KafkaJSProtocolError', type, code, retriable: false });
}
