import type { JobValue } from "../../shared/job";
import { JobStore } from "../../shared/store";
import { job } from "../helpers/jobs";

describe("JobStore.apply (progress)", () => {
  test("keeps, per job, the value with the highest seq whatever the arrival order", () => {
    const store = new JobStore();
    store.apply({ a: job("a", 3) });
    const stale = store.apply({ a: job("a", 2) });
    expect(stale).toEqual({ updated: {}, removed: [] });
    store.apply({ a: job("a", 5) });
    store.apply({ a: job("a", 4) });
    expect(store.get("a")?.seq).toBe(5);
  });

  test("drops an exact duplicate (same seq) without reporting a change", () => {
    const store = new JobStore();
    store.apply({ a: job("a", 1) });
    expect(store.apply({ a: job("a", 1, { percent: 99 }) }).updated).toEqual({});
    expect(store.get("a")?.percent).toBe(1);
  });

  test("reports what changed: new and newer values, removed ids", () => {
    const store = new JobStore();
    store.apply({ a: job("a", 1), b: job("b", 1) });
    const change = store.apply({ a: job("a", 2), b: null, c: null });
    expect(Object.keys(change.updated)).toEqual(["a"]);
    expect(change.removed).toEqual(["b"]); // c was never held
    expect(store.size).toBe(1);
  });

  test("skips garbage values instead of throwing", () => {
    const store = new JobStore();
    const garbage = {
      x: "not a job",
      y: { id: "y", percent: "12" },
      z: [1, 2],
      w: { ...job("w", 1), status: "exploded" },
      v: { ...job("v", 1), seq: 1.5 },
    } as unknown as Record<string, JobValue>;
    const change = store.apply({ ...garbage, ok: job("ok", 1) });
    expect(Object.keys(change.updated)).toEqual(["ok"]);
    expect(store.size).toBe(1);
  });
});

describe("JobStore.replace (snapshot)", () => {
  test("replaces everything: jobs missing from the snapshot are removed", () => {
    const store = new JobStore();
    store.apply({ a: job("a", 1), b: job("b", 1) });
    const change = store.replace({ b: job("b", 2), c: job("c", 1) });
    expect(change.removed).toEqual(["a"]);
    expect(Object.keys(change.updated).sort()).toEqual(["b", "c"]);
    expect(Object.keys(store.toJSON()).sort()).toEqual(["b", "c"]);
  });

  test("takes the snapshot's value even with a lower seq (a reset Redis), reporting it", () => {
    const store = new JobStore();
    store.apply({ a: job("a", 9) });
    const change = store.replace({ a: job("a", 2) });
    expect(store.get("a")?.seq).toBe(2);
    expect(Object.keys(change.updated)).toEqual(["a"]);
  });

  test("does not report jobs whose seq did not change", () => {
    const store = new JobStore();
    store.apply({ a: job("a", 3) });
    expect(store.replace({ a: job("a", 3) })).toEqual({ updated: {}, removed: [] });
  });

  test("an empty snapshot empties the store", () => {
    const store = new JobStore();
    store.apply({ a: job("a", 1) });
    expect(store.replace({}).removed).toEqual(["a"]);
    expect(store.size).toBe(0);
  });

  test("skips garbage in a snapshot", () => {
    const store = new JobStore();
    store.replace({ bad: { id: 1 } as unknown as JobValue, good: job("good", 1) });
    expect(Object.keys(store.toJSON())).toEqual(["good"]);
  });

  test("progress after a snapshot merges by seq again", () => {
    const store = new JobStore();
    store.replace({ a: job("a", 4) });
    store.apply({ a: job("a", 3) });
    expect(store.get("a")?.seq).toBe(4);
    store.apply({ a: job("a", 5) });
    expect(store.get("a")?.seq).toBe(5);
  });
});

describe("JobStore with hostile ids", () => {
  test("a job id of __proto__ is an ordinary key in the store and in its change records", () => {
    const store = new JobStore();
    const change = store.apply(JSON.parse(`{"__proto__": ${JSON.stringify(job("__proto__", 1))}}`));
    expect(Object.keys(change.updated)).toEqual(["__proto__"]);
    expect(store.get("__proto__")?.seq).toBe(1);
    expect(Object.keys(store.toJSON())).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    const replaced = store.replace(
      JSON.parse(`{"__proto__": ${JSON.stringify(job("__proto__", 2))}}`),
    );
    expect(Object.keys(replaced.updated)).toEqual(["__proto__"]);
  });
});
