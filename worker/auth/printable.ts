// Login names as the audit log records them. A failed sign-in records whatever name a client
// sent, and a client may send anything: NUL (which D1 would silently cut the text at), line
// breaks that forge a second line in a log viewer, bidirectional overrides that make
// "admin\u202Egnp.exe" read as something else. Such characters are written as \u{…} escapes,
// so the record shows exactly what was sent and nothing can hide in it. Pure: no I/O.

/** At most this many characters of a name are recorded. */
export const MAX_RECORDED_NAME = 256;

// C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional marks,
// embeddings, overrides and isolates (Unicode TR9); the backslash too, so that an escape in
// the record can only have come from this function.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\\]/gu;

export function printableName(name: string): string {
  // By code point, so that a cut never splits a surrogate pair.
  const chars = Array.from(name);
  const escaped = chars.slice(0, MAX_RECORDED_NAME).join("").replace(UNPRINTABLE, (char) => `\\u{${char.codePointAt(0)!.toString(16)}}`);
  return chars.length > MAX_RECORDED_NAME ? `${escaped}…` : escaped;
}

/** Whether the name holds nothing printableName would escape (every account name is such). */
export function isPrintable(name: string): boolean {
  UNPRINTABLE.lastIndex = 0;
  return !UNPRINTABLE.test(name);
}
