/**
 * Subscriptions' resubscribe when only some shards answer: a
 * PartialSubscribeError names the channels whose SSUBSCRIBE failed; the others
 * are re-read at once (a `snapshot` event), the failed ones retried after
 * `retryDelay`. A stand-in PubSub plays the cluster.
 */
import { Emitter } from "../../shared/emitter";
import { scopeKeys } from "../../shared/keys";
import { PartialSubscribeError } from "../../server/errors";
import type { ReadResult } from "../../server/reader";
import type { PubSub, SubscriberEvents } from "../../server/subscriber";
import { Subscriptions } from "../../server/subscriptions";
import { waitFor } from "../helpers/wait";

class StandInPubSub extends Emitter<SubscriberEvents> implements PubSub {
  ready = true;
  readonly calls: string[][] = [];
  /** Channels the next subscribe fails for (the rest succeed). */
  failing: string[] = [];

  async subscribe(channels: readonly string[]): Promise<void> {
    this.calls.push([...channels]);
    const failed = channels.filter((channel) => this.failing.includes(channel));
    this.failing = [];
    if (failed.length > 0) throw new PartialSubscribeError("a shard is down", failed);
  }

  async unsubscribe(): Promise<void> {}

  /** As a shard's lost connection reports its channels. */
  drop(channels: string[]): void {
    this.emit("dropped", channels);
  }

  async close(): Promise<void> {}
}

const channelOf = (scope: string) => scopeKeys("resque:pace", scope, true).channel;

test("a resubscribe that failed for one shard re-reads the others at once and retries only the failed channels", async () => {
  const pubsub = new StandInPubSub();
  const reads: string[] = [];
  const subscriptions = new Subscriptions({
    subscriber: pubsub,
    read: async (scope): Promise<ReadResult> => {
      reads.push(scope);
      return { jobs: {}, garbage: [] };
    },
    prefix: "resque:pace",
    keyPrefix: "",
    cluster: true,
    timeout: 1000,
    retryDelay: 200,
  });
  subscriptions.on("error", () => {});
  const snapshots: string[] = [];
  subscriptions.on("snapshot", (scope) => snapshots.push(scope));
  try {
    await subscriptions.acquire("up:1");
    await subscriptions.acquire("down:1");
    reads.length = 0;
    pubsub.calls.length = 0;

    pubsub.failing = [channelOf("down:1")];
    pubsub.drop([channelOf("up:1"), channelOf("down:1")]);
    await waitFor(() => snapshots.includes("up:1"), { what: "the healthy shard's re-read" });
    expect(reads).toEqual(["up:1"]);
    expect(pubsub.calls).toEqual([[channelOf("up:1"), channelOf("down:1")]]);

    // Only the failed channel is tried again, after retryDelay, then re-read.
    await waitFor(() => snapshots.includes("down:1"), { what: "the retried shard's re-read" });
    expect(pubsub.calls[1]).toEqual([channelOf("down:1")]);
    expect(reads).toEqual(["up:1", "down:1"]);
  } finally {
    await subscriptions.close();
  }
});
