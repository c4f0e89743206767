// Names as the audit log records them: control and bidirectional characters escaped, so a
// record shows exactly what a client sent and nothing can hide in it (worker/auth/printable.ts).
import { describe, expect, it } from "vitest";
import { MAX_RECORDED_NAME, printableName } from "../../worker/auth/printable";

describe("printableName", () => {
  it("keeps an ordinary name, accents and all", () => {
    expect(printableName("josé.garcía@example.com")).toBe("josé.garcía@example.com");
  });

  it("escapes NUL, line breaks, DEL, C1 controls and the line separators", () => {
    expect(printableName("a\u0000b\r\nc\u007fd\u0085e\u2028f")).toBe("a\\u{0}b\\u{d}\\u{a}c\\u{7f}d\\u{85}e\\u{2028}f");
  });

  it("escapes bidirectional marks, overrides and isolates", () => {
    expect(printableName("x\u202Ey\u2066z\u200Fw\u061C")).toBe("x\\u{202e}y\\u{2066}z\\u{200f}w\\u{61c}");
  });

  it("escapes a backslash, so that an escape can only come from this function", () => {
    expect(printableName("a\\u{0}")).toBe("a\\u{5c}u{0}");
  });

  it("cuts a long name by code points, marking the cut", () => {
    const name = "😀".repeat(MAX_RECORDED_NAME + 5);
    expect(printableName(name)).toBe(`${"😀".repeat(MAX_RECORDED_NAME)}…`);
  });
});
