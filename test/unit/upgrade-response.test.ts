/** withoutUpgradeResponse: removes the once("close") listeners the upgrade added, nothing else. */
import { PassThrough } from "node:stream";
import { withoutUpgradeResponse } from "../../server/upgrade-response";

test("drops the close listeners registered with once() during the upgrade", () => {
  const socket = new PassThrough();
  const earlier = jest.fn();
  socket.once("close", earlier);
  const kept = jest.fn();
  const dropped = jest.fn();
  withoutUpgradeResponse(socket, () => {
    socket.once("close", dropped); // engine.io's upgrade response
    socket.on("close", kept); // the WebSocket's own
  });
  expect(socket.listeners("close")).toEqual([earlier, kept]);
  socket.emit("close");
  expect(earlier).toHaveBeenCalledTimes(1);
  expect(kept).toHaveBeenCalledTimes(1);
  expect(dropped).not.toHaveBeenCalled();
});

test("leaves other events alone and runs the upgrade once", () => {
  const socket = new PassThrough();
  const upgrade = jest.fn(() => {
    socket.once("end", () => {});
  });
  withoutUpgradeResponse(socket, upgrade);
  expect(upgrade).toHaveBeenCalledTimes(1);
  expect(socket.listenerCount("end")).toBeGreaterThan(0);
});
