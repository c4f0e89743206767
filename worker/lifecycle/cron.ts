// When a schedule (the `schedules` table) is next due. Pure: no I/O, no Pier imports, so the
// API can validate an expression and the scheduler compute the next run with the same code.
//
// An expression is one of
//   "hourly"  = "0 * * * *"   at minute 0 of every hour
//   "daily"   = "0 0 * * *"   at 00:00 UTC
//   "weekly"  = "0 0 * * 0"   at 00:00 UTC on Sunday
// (the meanings of Vixie cron's @hourly, @daily and @weekly, so nobody has to learn new ones),
// or five cron fields, minute hour day-of-month month day-of-week, in UTC. Each field is a
// comma-separated list of `*`, `n`, `a-b`, `*/s` and `a-b/s`; day-of-week is 0-7, both 0 and 7
// being Sunday. Names (JAN, MON), `?`, `L`, `W` and `#` are refused rather than half-supported.
// As in Vixie cron and cronie, when both day fields are restricted a day matching EITHER runs
// ("0 0 1 * 1": the 1st of the month and every Monday); a field starting with `*` (so `*/2`
// too) counts as unrestricted, and then both must match.

export class ScheduleError extends Error {
  override name = "ScheduleError";
}

export interface Schedule {
  /** The expression as given (an alias stays an alias). */
  readonly text: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0-6, Sunday 0 (a 7 in the expression is stored as 0). */
  readonly daysOfWeek: ReadonlySet<number>;
  readonly daysOfMonthRestricted: boolean;
  readonly daysOfWeekRestricted: boolean;
}

export const SCHEDULE_ALIASES: Readonly<Record<string, string>> = {
  hourly: "0 * * * *",
  daily: "0 0 * * *",
  weekly: "0 0 * * 0",
};

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

/** Longest expression accepted: five fields of lists fit easily; a megabyte of commas does not. */
const MAX_LENGTH = 256;
/** Days in each month (index 1-12) in the longest year: February can have a 29th. */
const LONGEST_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MINUTE = 60_000;

/** Parses "hourly", "daily", "weekly" or five cron fields; throws ScheduleError naming what is wrong. */
export function parseSchedule(text: string): Schedule {
  if (typeof text !== "string" || text.length > MAX_LENGTH) throw new ScheduleError(`a schedule is "hourly", "daily", "weekly" or five cron fields of at most ${MAX_LENGTH} characters`);
  const expression = SCHEDULE_ALIASES[text] ?? text;
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new ScheduleError(`"${text}" is not a schedule: use "hourly", "daily", "weekly" or five cron fields (minute hour day-of-month month day-of-week, UTC)`);
  }
  const [minutes, hours, daysOfMonth, months, rawDaysOfWeek] = fields.map((field, index) => parseField(field, FIELDS[index]!)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const daysOfWeek = new Set([...rawDaysOfWeek].map((day) => day % 7));
  const schedule: Schedule = {
    text,
    minutes,
    hours,
    daysOfMonth,
    months,
    daysOfWeek,
    daysOfMonthRestricted: !fields[2]!.startsWith("*"),
    daysOfWeekRestricted: !fields[4]!.startsWith("*"),
  };
  // "0 0 30 2 *" would never run: refused here, so nextRunAfter always finds a time.
  if (!daysMatchAnyDate(schedule)) throw new ScheduleError(`"${text}" never runs: no month it names has the days of month it names`);
  return schedule;
}

/** The first minute strictly after `afterMs` (ms since the epoch) that the schedule matches, in ms. */
export function nextRunAfter(schedule: Schedule, afterMs: number): number {
  const time = new Date(Math.floor(afterMs / MINUTE) * MINUTE + MINUTE);
  // Each step moves to the start of the next month, day, hour or minute, so the loop ends within
  // a few hundred steps; a 29 February in the dozen years ahead is found well inside the bound.
  for (let step = 0; step < 100_000; step++) {
    if (!schedule.months.has(time.getUTCMonth() + 1)) {
      time.setUTCMonth(time.getUTCMonth() + 1, 1);
      time.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(schedule, time)) {
      time.setUTCDate(time.getUTCDate() + 1);
      time.setUTCHours(0, 0, 0, 0);
    } else if (!schedule.hours.has(time.getUTCHours())) {
      time.setUTCHours(time.getUTCHours() + 1, 0, 0, 0);
    } else if (!schedule.minutes.has(time.getUTCMinutes())) {
      time.setUTCMinutes(time.getUTCMinutes() + 1, 0, 0);
    } else {
      return time.getTime();
    }
  }
  throw new ScheduleError(`"${schedule.text}" has no run time in the years ahead`);
}

function dayMatches(schedule: Schedule, time: Date): boolean {
  const dayOfMonth = schedule.daysOfMonth.has(time.getUTCDate());
  const dayOfWeek = schedule.daysOfWeek.has(time.getUTCDay());
  if (schedule.daysOfMonthRestricted && schedule.daysOfWeekRestricted) return dayOfMonth || dayOfWeek;
  return dayOfMonth && dayOfWeek;
}

function daysMatchAnyDate(schedule: Schedule): boolean {
  // With a restricted day of week, some date in any month falls on one of its days.
  if (schedule.daysOfWeekRestricted) return true;
  return [...schedule.months].some((month) => [...schedule.daysOfMonth].some((day) => day <= LONGEST_MONTH[month]!));
}

function parseField(field: string, { name, min, max }: (typeof FIELDS)[number]): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(",")) {
    const match = /^(\*|(\d{1,2})(?:-(\d{1,2}))?)(?:\/(\d{1,2}))?$/.exec(item);
    if (match === null) throw new ScheduleError(`the ${name} field "${field}" is not a list of *, n, a-b, */s or a-b/s`);
    const [, star, first, last, stepText] = match;
    // A lone number with a step ("5/15") means different things to different crons: refused.
    if (stepText !== undefined && first !== undefined && last === undefined) throw new ScheduleError(`the ${name} field "${field}": a step needs a range, as in */${stepText} or ${first}-${max}/${stepText}`);
    const from = star === "*" ? min : Number(first);
    const to = star === "*" ? max : last === undefined ? from : Number(last);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (from < min || to > max || from > to) throw new ScheduleError(`the ${name} field "${field}" must stay within ${min}-${max}, each range from low to high`);
    if (step < 1) throw new ScheduleError(`the ${name} field "${field}" has a step of 0`);
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}
