/**
 * The browser SDK's cancel against the real gateway (socket.io-client in Node):
 * `canCancel(scope)` follows the subscribe ack's `can_cancel`, `cancel()`
 * resolves once the request is stored and rejects with typed codes.
 */
import { createProgressClient, type ProgressClient } from "../../client/progress-client";
import { InvalidArgumentError } from "../../shared/errors/invalid-argument-error";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { TestGateway, waitFor } from "../helpers/gateway";

let tg: TestGateway;
const clients: ProgressClient[] = [];

beforeAll(async () => {
  tg = await TestGateway.start();
});
afterAll(async () => {
  for (const client of clients) client.close();
  await tg.stop();
});

async function watching(token: string, scope: string): Promise<ProgressClient> {
  const client = createProgressClient({
    url: tg.url,
    token,
    socketOptions: { transports: ["websocket"] },
  });
  clients.push(client);
  client.subscribe(scope, () => {});
  await waitFor(() => client.loaded(scope), { what: `${scope} to load` });
  return client;
}

test("canCancel follows the claim; cancel resolves with the stored time and the job shows it", async () => {
  const pace = await RedisProgress.start({ redis: tg.redis.url, scope: "cc:1", total: 10 });
  const viewer = await watching(await tg.token(["cc:*"]), "cc:1");
  expect(viewer.canCancel("cc:1")).toBe(false);
  await expect(viewer.cancel("cc:1", pace.id)).rejects.toMatchObject({
    name: "ProgressClientError",
    code: "forbidden",
    scope: "cc:1",
  });

  const operator = await watching(await tg.token(["cc:*"], { cancel: ["cc:*"] }), "cc:1");
  expect(operator.canCancel("cc:1")).toBe(true);
  expect(operator.canCancel("cc:2")).toBe(false); // not watched
  const at = await operator.cancel("cc:1", pace.id);
  expect(typeof at).toBe("string");
  await waitFor(() => operator.jobs("cc:1")[pace.id]?.cancel_requested_at === at, {
    what: "the request in the client's jobs",
  });
  pace.tick();
  await pace.flush();
  expect(pace.cancelRequested).toBe(true);
  await pace.cancel();
  await waitFor(() => operator.jobs("cc:1")[pace.id]?.status === "canceled", {
    what: "canceled in the client's jobs",
  });
  await expect(operator.cancel("cc:1", pace.id)).rejects.toMatchObject({ code: "conflict" });
  await expect(operator.cancel("cc:1", "missing")).rejects.toMatchObject({ code: "not_found" });
  expect(() => operator.cancel("cc:1", "a b")).toThrow(InvalidArgumentError);
});

test("a closed client rejects with unavailable without sending", async () => {
  const client = await watching(await tg.token(["cc:*"], { cancel: ["cc:*"] }), "cc:3");
  client.close();
  await expect(client.cancel("cc:3", "job")).rejects.toMatchObject({ code: "unavailable" });
});
