/**
 * prebuilt.ts without Redis: the state's bytes, the base a reply gives, and
 * when a write may not be prebuilt. That the bytes and values match the
 * script's is checked against a real server in
 * test/integration/tracker-prebuilt.test.ts.
 */
import {
  baseFromReply,
  luaNumberText,
  packState,
  prebuild,
  rateText,
  readState,
  shownRate,
  STATE_VERSION,
  type BuildInput,
  type JobState,
} from "../../shared/tracker/prebuilt";
import { LAST_ISO_MS } from "../../shared/tracker/iso-time";

const state: JobState = {
  seq: 41,
  count: 120,
  errors: 2,
  updatedMs: Date.UTC(2026, 10, 28, 12),
  emaDn: 10,
  emaDt: 1000,
  refreshedMs: Date.UTC(2026, 10, 28, 12) - 5_000,
  length: 321,
  token: "tok-Ä",
};

const input: BuildInput = {
  count: 30,
  errors: 1,
  total: 1000,
  lastSeen: 40,
  now: state.updatedMs + 2_000,
  alpha: 0.3,
  heartbeat: 30_000,
  retention: 600_000,
  meta: "",
  token: "tok-Ä",
};

const tail =
  ',"id":"job-1","name":"Import","started_at":"2026-11-28T11:00:00.000Z","meta":{"a":1}}';

test("a state's text reads back as it was packed; an unknown or cut state is not read", () => {
  const text = packState(state);
  expect(text.startsWith(`${STATE_VERSION} `)).toBe(true);
  expect(readState(text)).toEqual(state);
  const unknown = packState({ ...state, emaDn: null, emaDt: null });
  expect(readState(unknown)).toMatchObject({ emaDn: null, emaDt: null });
  expect(readState(`${text} x`)).toBeNull();
  expect(readState(text.slice(0, text.lastIndexOf(" ")))).toBeNull();
  expect(readState(text.replace(" 41 ", " 4x1 "))).toBeNull();
  expect(readState(text.replace(" 41 ", "  "))).toBeNull();
  expect(readState(`${STATE_VERSION - 1}${text.slice(1)}`)).toBeNull();
  // The version 7 state was binary: a version byte, doubles, a zero-terminated token.
  expect(readState(String.fromCharCode(7) + "\0".repeat(64) + "tok\0")).toBeNull();
});

test("a reply's tail splits at its meta; a state without a token gives no base", () => {
  const applied = { count: 20, errors: 1 };
  const base = baseFromReply(packState(state), tail, applied);
  expect(base).toMatchObject({
    fixed: ',"id":"job-1","name":"Import","started_at":"2026-11-28T11:00:00.000Z"',
    suffix: ',"meta":{"a":1}}',
    suffixBytes: 16,
    applied,
  });
  expect(baseFromReply(packState(state), ',"id":"job-1"}', applied)).toMatchObject({
    fixed: ',"id":"job-1"',
    suffix: "}",
    suffixBytes: 1,
  });
  expect(baseFromReply(packState({ ...state, token: "" }), tail, applied)).toBeNull();
  expect(baseFromReply(packState(state), "", applied)).toBeNull();
});

test("a prebuilt write applies the tracker's delta since its last write, with its meta or the stored one", () => {
  const base = baseFromReply(packState(state), tail, { count: 20, errors: 1 });
  if (base === null) throw new Error("no base");
  const built = prebuild(base, input);
  if (built === null) throw new Error("not prebuilt");
  // 120 stored + (30 - 20) from this tracker; errors 2 + (1 - 1).
  expect(built.state).toMatchObject({ seq: 42, count: 130, errors: 2, updatedMs: input.now });
  expect(built.state.length).toBe(Buffer.byteLength(built.value));
  const value = JSON.parse(built.value) as Record<string, unknown>;
  expect(value).toMatchObject({ seq: 42, count: 130, percent: 13, error_count: 2, meta: { a: 1 } });
  expect(value.updated_at).toBe(new Date(input.now).toISOString());
  // The EMA: 0.3 * 10 + 0.7 * 10 items over 0.3 * 2000 + 0.7 * 1000 ms.
  expect(built.rate).toBe(7.692308);
  // The ETA comes from the rate before it was rounded for showing.
  const left = 1000 - built.state.count;
  expect(built.eta).toBe(input.now + Math.ceil((left / ((10 * 1000) / 1300)) * 1000));
  expect(readState(built.text)).toEqual(built.state);

  const withMeta = prebuild(base, { ...input, meta: '{"b":[1,2.50]}' });
  expect(withMeta?.value.endsWith(',"meta":{"b":[1,2.50]}}')).toBe(true);
  expect(withMeta?.suffix).toBe(',"meta":{"b":[1,2.50]}}');
});

test("no prebuilt write on a state with another token, when housekeeping is due, the clock went back or reads past 9999", () => {
  const base = baseFromReply(packState(state), tail, { count: 20, errors: 1 });
  if (base === null) throw new Error("no base");
  expect(prebuild(base, { ...input, token: "other" })).toBeNull();
  // slack = min(60 s, retention / 10): 60 s here, 5 s of it gone already.
  expect(prebuild(base, { ...input, now: state.refreshedMs + 59_999 })).not.toBeNull();
  expect(prebuild(base, { ...input, now: state.refreshedMs + 60_000 })).toBeNull();
  expect(prebuild(base, { ...input, now: state.refreshedMs - 1 })).toBeNull();
  // toISOString() writes a year past 9999 otherwise than Lua's iso().
  const late = { ...state, updatedMs: LAST_ISO_MS - 2_000, refreshedMs: LAST_ISO_MS - 5_000 };
  const lateBase = baseFromReply(packState(late), tail, { count: 20, errors: 1 });
  if (lateBase === null) throw new Error("no base");
  expect(prebuild(lateBase, { ...input, now: LAST_ISO_MS })).not.toBeNull();
  expect(prebuild(lateBase, { ...input, now: LAST_ISO_MS + 1 })).toBeNull();
});

test("an ETA past the year 9999 (a stalled job's rate decays towards 0) is unknown", () => {
  const base = baseFromReply(packState(state), tail, { count: 20, errors: 1 });
  if (base === null) throw new Error("no base");
  const built = prebuild(base, { ...input, total: 1e18 });
  if (built === null) throw new Error("not prebuilt");
  expect(built.eta).toBe(-1);
  expect(JSON.parse(built.value)).toMatchObject({ estimated_finished_at: null });
  expect(built.rate).toBe(7.692308);
});

test("a shown rate's own text is printf's %.14g (luaNumberText, checked against Lua), from 1e-4 to 1e8", () => {
  const rates = [
    1e-4,
    1e-4 * (1 - 2 ** -52),
    0.000149999,
    0.00015,
    1 / 3,
    2 / 3,
    7.6923076923076925,
    12.0000005,
    12.0000004999,
    99999999.9999995,
    99999999.9999994,
    1e8 * (1 - 2 ** -53),
    1e8,
    1.5e8,
    ...Array.from({ length: 2000 }, (_, i) => Math.exp(i / 80 - 10) * (1 + i / 1009)),
  ];
  for (const rate of rates) {
    const shown = shownRate(rate);
    expect(rateText(shown)).toBe(luaNumberText(shown));
    if (rate >= 1e-4 && rate < 1e8) {
      // Half a millionth, plus the rounding of rate × 10^6 itself.
      expect(Math.abs(shown - rate)).toBeLessThanOrEqual(5e-7 + rate * 2 ** -50);
      expect(rateText(shown)).toBe(String(shown));
    } else {
      expect(shown).toBe(rate);
    }
  }
});
