// worker/lifecycle/cron.ts: which expressions a schedule may hold, and the next minute each
// one matches (UTC), strictly after a given time.
import { describe, expect, it } from "vitest";
import { nextRunAfter, parseSchedule, ScheduleError } from "../../worker/lifecycle/cron";

/** The next run of `expression` after the ISO time `after`, as an ISO time. */
function next(expression: string, after: string): string {
  return new Date(nextRunAfter(parseSchedule(expression), Date.parse(after))).toISOString();
}

describe("the aliases", () => {
  it("runs hourly at minute 0", () => {
    expect(next("hourly", "2024-05-10T10:30:00Z")).toBe("2024-05-10T11:00:00.000Z");
  });

  it("runs daily at 00:00 UTC", () => {
    expect(next("daily", "2024-05-10T00:00:30Z")).toBe("2024-05-11T00:00:00.000Z");
  });

  it("runs weekly at 00:00 UTC on Sunday", () => {
    expect(next("weekly", "2024-03-02T12:00:00Z")).toBe("2024-03-03T00:00:00.000Z");
    expect(next("weekly", "2024-03-03T00:00:00Z")).toBe("2024-03-10T00:00:00.000Z");
  });

  it("keeps the expression as given", () => {
    expect(parseSchedule("daily").text).toBe("daily");
  });
});

describe("nextRunAfter", () => {
  it("answers strictly after the given time, on a whole minute", () => {
    expect(next("* * * * *", "2024-05-10T10:00:00.000Z")).toBe("2024-05-10T10:01:00.000Z");
    expect(next("* * * * *", "2024-05-10T10:00:59.999Z")).toBe("2024-05-10T10:01:00.000Z");
    expect(next("0 11 * * *", "2024-05-10T10:59:59.999Z")).toBe("2024-05-10T11:00:00.000Z");
  });

  it("follows steps, ranges, stepped ranges and lists", () => {
    expect(next("*/15 * * * *", "2024-05-10T10:07:00Z")).toBe("2024-05-10T10:15:00.000Z");
    expect(next("30 9-17/4 * * *", "2024-05-10T13:30:00Z")).toBe("2024-05-10T17:30:00.000Z");
    expect(next("30 9-17/4 * * *", "2024-05-10T17:30:00Z")).toBe("2024-05-11T09:30:00.000Z");
    expect(next("5,50 2 * * *", "2024-05-10T02:06:00Z")).toBe("2024-05-10T02:50:00.000Z");
    expect(next("0 9 * * 1-5", "2025-01-04T10:00:00Z")).toBe("2025-01-06T09:00:00.000Z");
  });

  it("skips to the next month it names", () => {
    expect(next("0 0 * 6 *", "2024-07-01T00:00:00Z")).toBe("2025-06-01T00:00:00.000Z");
  });

  it("rolls over into the next year", () => {
    expect(next("0 0 1 1 *", "2024-12-31T23:59:00Z")).toBe("2025-01-01T00:00:00.000Z");
    expect(next("59 23 31 12 *", "2024-12-31T23:59:00Z")).toBe("2025-12-31T23:59:00.000Z");
  });

  it("finds 29 February only in leap years, and not in 2100", () => {
    expect(next("0 0 29 2 *", "2025-03-01T00:00:00Z")).toBe("2028-02-29T00:00:00.000Z");
    expect(next("0 0 29 2 *", "2096-03-01T00:00:00Z")).toBe("2104-02-29T00:00:00.000Z");
  });

  it("reads day of week 7 as Sunday, as 0 is", () => {
    expect(next("0 12 * * 7", "2024-03-02T12:00:00Z")).toBe("2024-03-03T12:00:00.000Z");
    expect(next("0 12 * * 0", "2024-03-02T12:00:00Z")).toBe("2024-03-03T12:00:00.000Z");
  });

  it("runs on a day matching either day field when both are restricted", () => {
    // The 13th, or any Friday: Tuesday 13 August comes before the next Friday.
    expect(next("0 0 13 * 5", "2024-08-10T00:00:00Z")).toBe("2024-08-13T00:00:00.000Z");
    expect(next("0 0 13 * 5", "2024-09-01T00:00:00Z")).toBe("2024-09-06T00:00:00.000Z");
  });

  it("needs both day fields to match when one starts with *", () => {
    // Mondays on odd days of the month: 2 September is even, 9 September is odd.
    expect(next("0 0 */2 * 1", "2024-09-01T00:00:00Z")).toBe("2024-09-09T00:00:00.000Z");
    expect(next("0 0 13 * *", "2024-09-01T00:00:00Z")).toBe("2024-09-13T00:00:00.000Z");
  });

  it("accepts a day of month the month lacks when a weekday can match instead", () => {
    // 31 February never comes; the first Monday of February does.
    expect(next("0 0 31 2 1", "2024-09-01T00:00:00Z")).toBe("2025-02-03T00:00:00.000Z");
  });
});

describe("parseSchedule", () => {
  it.each([
    ["an empty string", ""],
    ["words", "every day"],
    ["four fields", "* * * *"],
    ["six fields", "0 * * * * *"],
    ["a minute of 60", "60 * * * *"],
    ["an hour of 24", "* 24 * * *"],
    ["a day of month 0", "* * 0 * *"],
    ["a month 13", "* * * 13 *"],
    ["a day of week 8", "* * * * 8"],
    ["a range from high to low", "5-1 * * * *"],
    ["a step of 0", "*/0 * * * *"],
    ["a step without a range", "5/15 * * * *"],
    ["a month name", "0 0 * JAN *"],
    ["a weekday name", "0 0 * * MON"],
    ["an empty list item", "0,,5 * * * *"],
    ["Quartz's ?", "0 0 ? * *"],
    ["an alias in another case", "Daily"],
    ["30 February, which never comes", "0 0 30 2 *"],
    ["31 April and June, which never come", "0 0 31 4,6 *"],
    ["a very long expression", `${"1,".repeat(200)}1 * * * *`],
  ])("refuses %s", (_, expression) => {
    expect(() => parseSchedule(expression)).toThrow(ScheduleError);
  });

  it("names the field that is wrong", () => {
    expect(() => parseSchedule("0 25 * * *")).toThrow(/hour field "25"/);
  });
});
