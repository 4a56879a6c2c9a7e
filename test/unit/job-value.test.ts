import { asJobValue } from "../../shared/job";

const job = {
  id: "job-1",
  percent: 50,
  count: 5,
  total: 10,
  seq: 3,
  status: "running",
  started_at: "2026-11-28T10:00:00.000Z",
  updated_at: "2026-11-28T10:00:01.000Z",
  estimated_finished_at: null,
  finished_at: null,
};

/** What Date.parse says of a date: the rule asJobValue must keep, fast path or not. */
function parses(text: string): boolean {
  return !Number.isNaN(Date.parse(text));
}

test("a date is taken exactly when Date.parse takes it, whether or not it has toISOString()'s layout", () => {
  const dates = [
    "2026-11-28T23:59:59.999Z",
    "0000-01-01T00:00:00.000Z",
    "9999-12-31T23:59:59.999Z",
    "2026-02-31T00:00:00.000Z", // Date.parse rolls it over: taken
    "2026-02-29T00:00:00.000Z",
    "2024-02-29T00:00:00.000Z",
    "1900-02-29T00:00:00.000Z",
    "2000-02-29T00:00:00.000Z",
    "2026-04-31T00:00:00.000Z",
    "2026-11-29T23:59:59.999Z",
    "2026-11-30T00:00:00.000Z",
    "2026-12-31T00:00:00.000Z",
    "2026-12-31T24:00:00.000Z", // midnight as 24:00: taken
    "2026-12-31T24:00:00.001Z",
    "2026-13-01T00:00:00.000Z",
    "2026-00-10T00:00:00.000Z",
    "2026-01-00T00:00:00.000Z",
    "2026-01-32T00:00:00.000Z",
    "2026-01-01T00:60:00.000Z",
    "2026-01-01T00:00:60.000Z",
    "2026-01-01T00:00:00.000z",
    "2026-01-01 00:00:00.000Z",
    "2026-01-01T00:00:00Z",
    "2026-01-01",
    "Sat, 28 Nov 2026 10:00:00 GMT",
    "+012026-01-01T00:00:00.000Z",
    "2026-1a-01T00:00:00.000Z",
    "",
    "yesterday",
  ];
  // Every digit and separator of a valid date changed to each other character class.
  const base = "2026-11-28T10:20:30.456Z";
  for (let i = 0; i < base.length; i++) {
    for (const c of ["0", "1", "2", "3", "5", "9", "-", ":", "T", ".", "Z", " ", "x"]) {
      dates.push(base.slice(0, i) + c + base.slice(i + 1));
    }
  }
  const wrong = dates.filter(
    (date) =>
      (asJobValue({ ...job, updated_at: date }) !== null) !== parses(date) ||
      (asJobValue({ ...job, estimated_finished_at: date }) !== null) !== parses(date),
  );
  expect(wrong).toEqual([]);
  expect(asJobValue(job)).not.toBeNull();
});

test("every real calendar day takes the fast path: no Date.parse for toISOString()'s own text", () => {
  const parse = jest.spyOn(Date, "parse");
  try {
    const days: string[] = [];
    for (let t = Date.UTC(2023, 0, 1); t < Date.UTC(2025, 0, 1); t += 86_400_000 + 3_599_999) {
      days.push(new Date(t).toISOString());
    }
    days.push("2000-02-29T12:00:00.000Z", "9999-12-31T23:59:59.999Z");
    for (const date of days) {
      expect(asJobValue({ ...job, updated_at: date, finished_at: date })).not.toBeNull();
    }
    expect(parse).not.toHaveBeenCalled();
    // A day its month does not have still goes to Date.parse.
    asJobValue({ ...job, updated_at: "2026-02-29T00:00:00.000Z" });
    expect(parse).toHaveBeenCalledTimes(1);
  } finally {
    parse.mockRestore();
  }
});
