/**
 * Lets an ioredis connection hand what it reads to its reply parser at once.
 *
 * ioredis attaches its parser with `stream.prependListener("data")`. Unlike
 * `on("data")`, that does not set the flag by which a Node Readable emits a
 * chunk inside the read's own callback. So every chunk Redis sends went into
 * the socket's buffer first. A `process.nextTick` then took it out again
 * (`emitReadable_` → `flow` → `read`) before the parser saw it. On the
 * gateway's pub/sub connection, that is code on the path of every update.
 *
 * Adding and removing a `data` listener sets the flag. Node clears it again
 * only when the last `data` listener goes, and the parser's stays for the
 * socket's life: ioredis attaches it before the client emits `connect`, which
 * is when this runs. Listeners still run in the same order, so nothing else
 * changes. Should a Node version drop the flag, this is a no-op.
 */
import type { Cluster, Redis } from "ioredis";

const noop = (): void => {};

function arm(client: Redis): void {
  const stream = client.stream as Redis["stream"] | undefined;
  if (stream === undefined || stream.listenerCount("data") === 0) return;
  stream.on("data", noop);
  stream.off("data", noop);
}

/**
 * Arms each socket `client` connects. Call it on a client that has not
 * connected yet (every caller arms a client it has just created).
 */
export function readRepliesDirectly(client: Redis): void {
  client.on("connect", () => arm(client));
}

/** The same for every node connection of a Cluster that has not connected yet. */
export function readClusterRepliesDirectly(cluster: Cluster): void {
  cluster.on("+node", (node: Redis) => readRepliesDirectly(node));
}
