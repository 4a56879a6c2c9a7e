/**
 * Lets an ioredis connection hand what it reads to its reply parser at once.
 *
 * ioredis attaches its parser with `stream.prependListener("data")`. Unlike
 * `on("data")`, that does not set the flag by which a Node Readable emits a
 * chunk as soon as it is read. So every chunk Redis sends goes into the
 * socket's buffer first. A `process.nextTick` then takes it out again
 * (`emitReadable_` → `flow` → `read`) before the parser sees it. On a
 * gateway's pub/sub connection, that is code on the path of every update.
 * Adding and removing a `data` listener sets the flag for the life of the
 * socket, and the parser then runs inside the read's own callback. Listeners
 * still run in the same order, so nothing else changes. Should a Node version
 * drop the flag, this is a no-op.
 */
import type { Redis } from "ioredis";

const noop = (): void => {};

/** Arms `client`'s socket now (when it has one) and each new socket it connects. */
export function readRepliesDirectly(client: Redis): void {
  const arm = () => {
    const stream = client.stream as Redis["stream"] | undefined;
    if (stream === undefined) return;
    stream.on("data", noop);
    stream.off("data", noop);
  };
  client.on("connect", arm);
  arm();
}
