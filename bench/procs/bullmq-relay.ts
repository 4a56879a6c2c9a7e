/**
 * The BullMQ way, as an application would build it: workers call
 * `job.updateProgress({ scope, t, percent })`, a QueueEvents listener receives
 * `progress` from the queue's event stream, and a socket.io server emits it
 * to the room of the job's scope. Same handshake check as the gateway (HS256
 * token with `scopes` grants, verified with the gateway's own function), same
 * `subscribe` event; no snapshot (BullMQ has no per-scope read), so the ack
 * carries an empty map. Announces `{ ready: port }`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { QueueEvents } from "bullmq";
import { Server } from "socket.io";
import { grantsAllow } from "../../shared/grants";
import { verifyToken, secretKey, type TokenClaims } from "../../server/auth";
import { Arrivals } from "../lib/arrivals";
import { announce, serve } from "../lib/ipc";
import { commonHandlers } from "./common";

async function main(): Promise<void> {
  const url = new URL(process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379");
  const key = secretKey(process.env.BENCH_SECRET ?? "");
  const events = new QueueEvents(process.env.BENCH_QUEUE ?? "bench", {
    connection: { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null },
  });
  await events.waitUntilReady();

  const server = createServer();
  const io = new Server(server, { serveClient: false });
  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    verifyToken(token, key, 5).then(
      (claims) => {
        (socket.data as { claims: TokenClaims }).claims = claims;
        next();
      },
      () => next(new Error("unauthorized")),
    );
  });
  io.on("connection", (socket) => {
    socket.on("subscribe", (request: { scope?: unknown }, ack: unknown) => {
      if (typeof ack !== "function") return;
      const scope = String(request?.scope);
      if (!grantsAllow((socket.data as { claims: TokenClaims }).claims.scopes, scope)) {
        ack({ ok: false, error: { code: "forbidden", message: "not granted" } });
        return;
      }
      void socket.join(`#${scope}`);
      ack({ ok: true, scope, jobs: {} });
    });
  });
  const arrivals = new Arrivals();
  events.on(
    "progress",
    arrivals.wrap(
      ({ data }: { data: unknown }) => {
        const d = data as { t?: number; meta?: { t?: number } };
        return d.t ?? d.meta?.t;
      },
      ({ jobId, data }: { jobId: string; data: unknown }) => {
        const scope = (data as { scope?: unknown }).scope;
        if (typeof scope !== "string") return;
        io.to(`#${scope}`).emit("progress", { scope, jobs: { [jobId]: data } });
      },
    ),
  );

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serve({
    ...commonHandlers,
    sockets: () => io.of("/").sockets.size,
    arrivals: () => arrivals.take(),
  });
  announce({ ready: (server.address() as AddressInfo).port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
