// The health check's question to D1 (worker/services/health.ts): does it answer at all.
export async function pingDatabase(d1: D1Database): Promise<void> {
  await d1.prepare("SELECT 1").first();
}
