/**
 * The ceiling: a bare socket.io server with default options, no Redis, no
 * auth, rooms only. `subscribe { scope }` joins the room `#<scope>` and acks
 * an empty snapshot; `drive { rate, seconds, scopes }` emits `progress` to the
 * rooms round-robin at `rate` events per second, each carrying a job value of
 * the gateway's shape stamped with `meta.t` (nowUs) like the tracker's writes.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { announce, serve } from "../lib/ipc";
import { nowUs } from "../lib/stats";
import { commonHandlers } from "./common";
import { pace } from "../lib/pace";
import { sampleJob } from "../lib/sample-job";

interface DriveRequest {
  rate: number;
  seconds: number;
  scopes: string[];
}

async function main(): Promise<void> {
  const server = createServer();
  const io = new Server(server, { serveClient: false });
  io.on("connection", (socket) => {
    socket.on("subscribe", (request: { scope?: unknown }, ack: unknown) => {
      const scope = String(request?.scope);
      void socket.join(`#${scope}`);
      if (typeof ack === "function") ack({ ok: true, scope, jobs: {} });
    });
  });
  await new Promise<void>((resolve) =>
    server.listen(Number(process.env.BENCH_PORT ?? 0), "127.0.0.1", resolve),
  );
  let seq = 0;
  serve({
    ...commonHandlers,
    sockets: () => io.of("/").sockets.size,
    drive: async (payload) => {
      const { rate, seconds, scopes } = payload as DriveRequest;
      const job = sampleJob(randomUUID());
      return pace(rate, seconds, (i) => {
        const scope = scopes[i % scopes.length] as string;
        job.seq = ++seq;
        job.meta = { t: nowUs() };
        io.to(`#${scope}`).emit("progress", { scope, jobs: { [job.id]: job } });
      });
    },
  });
  announce({ ready: (server.address() as AddressInfo).port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
