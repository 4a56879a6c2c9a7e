/**
 * The gateway under test, in a process of its own: createGateway on
 * BENCH_PORT (0 = any) against BENCH_REDIS_URL with BENCH_SECRET, default
 * options otherwise. Announces `{ ready: port }`.
 *
 * The pub/sub connection's message listener is wrapped (before the gateway
 * registers it) to time, per message, the way from the writer to the gateway
 * and the gateway's own synchronous handling: the `arrivals` request.
 */
import pino from "pino";
import { createGateway } from "../../server";
import { Subscriber } from "../../server/subscriber";
import { Arrivals, stampOf } from "../lib/arrivals";
import { announce, serve } from "../lib/ipc";
import { commonHandlers } from "./common";

const arrivals = new Arrivals();
const on = Subscriber.prototype.on;
Subscriber.prototype.on = function (this: Subscriber, event: string, listener: unknown) {
  const register = on as (this: Subscriber, event: string, listener: unknown) => () => void;
  if (event !== "message") return register.call(this, event, listener);
  const handler = listener as (channel: string, message: string) => void;
  return register.call(
    this,
    event,
    arrivals.wrap((_channel: string, message: string) => stampOf(message), handler),
  );
} as typeof on;

async function main(): Promise<void> {
  const gateway = createGateway({
    secret: process.env.BENCH_SECRET ?? "",
    redis: process.env.BENCH_REDIS_URL,
    logger: pino({ level: "silent" }),
  });
  const { port } = await gateway.listen(Number(process.env.BENCH_PORT ?? 0), "127.0.0.1");
  serve({
    ...commonHandlers,
    sockets: () => gateway.io.of("/").sockets.size,
    arrivals: () => arrivals.take(),
  });
  announce({ ready: port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
