// The one bounded, expiring per-isolate memory (worker/expiring-map.ts, lesson 15): an entry
// answers until its time, and the map never holds more than its bounds, whatever is put in.
import { describe, expect, it } from "vitest";
import { ExpiringMap, expiringMapsBy } from "../worker/expiring-map";

const NOW = 1_000_000;

describe("ExpiringMap", () => {
  it("answers until the entry's time, then forgets it", () => {
    const map = new ExpiringMap<string>(10);
    map.set("a", "A", NOW + 100, NOW);
    expect(map.get("a", NOW + 99)).toBe("A");
    expect(map.get("a", NOW + 100)).toBeUndefined();
    expect(map.size).toBe(0);
  });

  it("does not keep a value that has already expired", () => {
    const map = new ExpiringMap<string>(10);
    map.set("a", "A", NOW + 100, NOW);
    map.set("a", "stale", NOW - 1, NOW);
    expect(map.get("a", NOW)).toBeUndefined();
    expect(map.size).toBe(0);
  });

  it("forgets a deleted key", () => {
    const map = new ExpiringMap<string>(10);
    map.set("a", "A", NOW + 100, NOW);
    map.delete("a");
    expect(map.get("a", NOW)).toBeUndefined();
  });

  it("holds at most `limit` entries however many distinct keys are set", () => {
    const map = new ExpiringMap<number>(100);
    for (let index = 0; index < 20_000; index++) map.set(`key-${index}`, index, NOW + 60_000, NOW);
    expect(map.size).toBe(100);
    expect(map.get("key-19999", NOW)).toBe(19_999);
    expect(map.get("key-19900", NOW)).toBe(19_900);
    expect(map.get("key-19899", NOW)).toBeUndefined();
  });

  it("drops the oldest-inserted entry when full, even one just read", () => {
    const map = new ExpiringMap<string>(2);
    map.set("a", "A", NOW + 100, NOW);
    map.set("b", "B", NOW + 100, NOW);
    map.get("a", NOW);
    map.set("c", "C", NOW + 100, NOW);
    expect([map.get("a", NOW), map.get("b", NOW), map.get("c", NOW)]).toEqual([undefined, "B", "C"]);
  });

  it("drops expired entries before the oldest live one when full", () => {
    const map = new ExpiringMap<string>(3);
    map.set("old but live", "1", NOW + 10_000, NOW);
    map.set("short", "2", NOW + 10, NOW);
    map.set("shorter", "3", NOW + 5, NOW);
    map.set("new", "4", NOW + 10_000, NOW + 50);
    expect(map.size).toBe(2);
    expect(map.get("old but live", NOW + 50)).toBe("1");
    expect(map.get("new", NOW + 50)).toBe("4");
  });

  it("with refreshOnHit, lets the least recently used go first", () => {
    const map = new ExpiringMap<string>({ limit: 2, refreshOnHit: true });
    map.set("a", "A", NOW + 100, NOW);
    map.set("b", "B", NOW + 100, NOW);
    map.get("a", NOW);
    map.set("c", "C", NOW + 100, NOW);
    expect([map.get("a", NOW), map.get("b", NOW), map.get("c", NOW)]).toEqual(["A", undefined, "C"]);
  });

  it("with a weight bound, drops the oldest until the total fits, and never keeps a value too heavy alone", () => {
    const map = new ExpiringMap<string>({ limit: 100, weight: { max: 10, of: (value) => value.length } });
    map.set("a", "aaaa", NOW + 100, NOW);
    map.set("b", "bbbb", NOW + 100, NOW);
    map.set("c", "cccc", NOW + 100, NOW);
    expect(map.get("a", NOW)).toBeUndefined();
    expect(map.size).toBe(2);
    map.set("huge", "x".repeat(11), NOW + 100, NOW);
    expect(map.get("huge", NOW)).toBeUndefined();
    expect([map.get("b", NOW), map.get("c", NOW)]).toEqual(["bbbb", "cccc"]);
  });

  it("counts a replaced value's weight once", () => {
    const map = new ExpiringMap<string>({ limit: 100, weight: { max: 8, of: (value) => value.length } });
    for (let round = 0; round < 10; round++) map.set("a", "aaaa", NOW + 100, NOW);
    map.set("b", "bbbb", NOW + 100, NOW);
    expect([map.get("a", NOW), map.get("b", NOW)]).toEqual(["aaaa", "bbbb"]);
  });
});

describe("expiringMapsBy", () => {
  it("gives each owner a map of its own, the same one every time", () => {
    const mapFor = expiringMapsBy<object, string>(10);
    const [first, second] = [{}, {}];
    mapFor(first).set("a", "A", NOW + 100, NOW);
    expect(mapFor(first).get("a", NOW)).toBe("A");
    expect(mapFor(second).get("a", NOW)).toBeUndefined();
  });
});
