// Messages on the JOBS queue. Queue messages are capped at 128 KB, so they carry ids; the
// work itself is described in D1.
export type JobMessage = { kind: "prefetch"; jobId: string };
