import { IsoDay } from "../../shared/tracker/iso-time";

/** toISOString(), or "throws" where it throws (past the year 275760). */
function reference(ms: number): string {
  try {
    return new Date(ms).toISOString();
  } catch {
    return "throws";
  }
}

function formatted(day: IsoDay, ms: number): string {
  try {
    return day.format(ms);
  } catch {
    return "throws";
  }
}

test("IsoDay writes what toISOString() writes, across days, years and the edges", () => {
  const day = new IsoDay();
  const edges = [
    0,
    1,
    999,
    1000,
    59_999,
    60_000,
    3_599_999,
    3_600_000,
    86_399_999,
    86_400_000,
    // 2000-02-29 (a leap day), its last millisecond, the next day
    951_782_400_000,
    951_868_799_999,
    951_868_800_000,
    // the last millisecond of 9999, the first of 10000 (six-digit year), before 1970
    253_402_300_799_999,
    253_402_300_800_000,
    -1,
    -86_400_001,
    // fractions are truncated by toISOString(); a time far out throws
    1.5,
    1_780_000_000_000.75,
    8.64e15 + 1,
  ];
  const now = Date.UTC(2026, 10, 28, 23, 59, 59, 990);
  const times = [...edges];
  // Walks over midnight and back, as a job's updates and ETAs do.
  for (let k = 0; k < 2000; k++) times.push(now + k * 7, now - k * 13);
  let seed = 7;
  for (let k = 0; k < 20_000; k++) {
    seed = (seed * 48_271) % 2_147_483_647;
    times.push(Math.floor((seed / 2_147_483_647) * 253_402_300_800_000));
  }
  const wrong = times.filter((ms) => formatted(day, ms) !== reference(ms));
  expect(wrong).toEqual([]);
});

test("a fraction after a whole time of the same day is truncated as toISOString() does", () => {
  const day = new IsoDay();
  expect(day.format(1000)).toBe(new Date(1000).toISOString());
  expect(day.format(1500.5)).toBe(new Date(1500.5).toISOString());
  expect(day.format(1_780_000_000_000)).toBe(new Date(1_780_000_000_000).toISOString());
  expect(day.format(1_780_000_000_123.9)).toBe(new Date(1_780_000_000_123.9).toISOString());
});
