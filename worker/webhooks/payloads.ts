// The bodies a webhook receives, in the format it chose:
//   harbor       Harbor's webhook payload ("Default" format), so that receivers written for
//                Harbor work unchanged: {"type", "occur_at" (unix seconds), "operator",
//                "event_data": {"resources": [{"digest", "tag", "resource_url"}], "repository":
//                {"name", "namespace", "repo_full_name", "repo_type"}, …}}
//                (https://goharbor.io/docs/latest/working-with-projects/project-configuration/configure-webhooks/)
//   cloudevents  CloudEvents 1.0 in structured JSON mode (application/cloudevents+json): the
//                context attributes at the top level, Pier's facts in "data".
// A body is built once, when the event is fanned out, and stored with the delivery: retries send
// the same bytes under the same signature.
import type { ArtifactFacts, PierEvent } from "../events/events";

export type WebhookFormat = "harbor" | "cloudevents";
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ["harbor", "cloudevents"];

/** What the body says beyond the event: where Pier is, and whether the project is public. */
export interface PayloadContext {
  /** Pier's origin (https://registry.example.com), or null when unknown. */
  origin: string | null;
  repoType: "public" | "private";
}

/** CloudEvents `type` of each event: reverse-DNS, past tense, as the spec recommends. */
export const CLOUD_EVENT_TYPES: Record<PierEvent["type"], string> = {
  PUSH_ARTIFACT: "io.pier.artifact.pushed",
  PULL_ARTIFACT: "io.pier.artifact.pulled",
  DELETE_ARTIFACT: "io.pier.artifact.deleted",
  QUOTA_EXCEED: "io.pier.quota.exceeded",
  REPLICATION: "io.pier.replication.finished",
  TAG_RETENTION: "io.pier.retention.finished",
};

export function contentTypeOf(format: WebhookFormat): string {
  return format === "harbor" ? "application/json" : "application/cloudevents+json";
}

export function payloadFor(format: WebhookFormat, event: PierEvent, context: PayloadContext): string {
  return JSON.stringify(format === "harbor" ? harborPayload(event, context) : cloudEvent(event, context));
}

function cloudEvent(event: PierEvent, context: PayloadContext): Record<string, unknown> {
  const subject = "repository" in event.data ? event.data.repository : undefined;
  return {
    specversion: "1.0",
    id: event.id,
    // A URI-reference: absolute when Pier knows its origin.
    source: `${context.origin ?? ""}/projects/${event.project}`,
    type: CLOUD_EVENT_TYPES[event.type],
    time: new Date(event.occurredAt).toISOString(),
    datacontenttype: "application/json",
    ...(subject !== undefined && { subject }),
    // An extension attribute (lowercase alphanumeric name, CloudEvents 1.0 "Extension Context Attributes").
    ...(event.operator !== null && { operator: event.operator }),
    data: { project: event.project, ...event.data },
  };
}

function harborPayload(event: PierEvent, context: PayloadContext): Record<string, unknown> {
  const host = context.origin === null ? null : new URL(context.origin).host;
  const common = { type: event.type, occur_at: Math.floor(event.occurredAt / 1000), operator: event.operator ?? "" };
  switch (event.type) {
    case "PUSH_ARTIFACT":
    case "PULL_ARTIFACT":
    case "DELETE_ARTIFACT":
      return { ...common, event_data: { resources: resourcesOf(event.data, host), repository: repositoryOf(event.project, event.data.repository, context) } };
    case "QUOTA_EXCEED": {
      const { repository, digest, limitBytes, usedBytes, addsBytes } = event.data;
      const details = `adding ${addsBytes} bytes to the ${usedBytes} bytes in use would exceed the project's limit of ${limitBytes} bytes`;
      return {
        ...common,
        event_data: {
          resources: digest === null ? [] : [{ digest, resource_url: resourceUrl(host, repository, `@${digest}`) }],
          repository: repositoryOf(event.project, repository, context),
          custom_attributes: { Details: details },
        },
      };
    }
    case "TAG_RETENTION": {
      const { runId, dryRun, trigger, status, examined, removed, error } = event.data;
      const retention = { total: examined, retained: Math.max(0, examined - removed), deleted: removed, harbor_hostname: host ?? "", project_name: event.project, result: status, trigger, dry_run: dryRun, run_id: runId, error };
      return { ...common, event_data: { retention } };
    }
    case "REPLICATION": {
      const { executionId, policy, trigger, status, source, destination, total, succeeded, failed, startedAt } = event.data;
      const replication = {
        harbor_hostname: host ?? "",
        job_status: status,
        trigger_type: trigger,
        policy_name: policy,
        execution_id: executionId,
        execution_timestamp: Math.floor(startedAt / 1000),
        src_resource: { registry_name: source ?? "this Pier" },
        dest_resource: { registry_name: destination ?? "this Pier" },
        total,
        successful: succeeded,
        failed,
      };
      return { ...common, event_data: { replication } };
    }
  }
}

/** One resource per tag (Harbor's shape); by digest when the artifact has none. */
function resourcesOf(facts: ArtifactFacts, host: string | null): Record<string, string>[] {
  const digest = facts.digest ?? "";
  if (facts.tags.length === 0) return [{ digest, tag: "", resource_url: resourceUrl(host, facts.repository, `@${digest}`) }];
  return facts.tags.map((tag) => ({ digest, tag, resource_url: resourceUrl(host, facts.repository, `:${tag}`) }));
}

/** `<host>/<repository>:<tag>` (or `@<digest>`), what `docker pull` takes. */
function resourceUrl(host: string | null, repository: string, reference: string): string {
  return `${host === null ? "" : `${host}/`}${repository}${reference}`;
}

function repositoryOf(project: string, repository: string, context: PayloadContext): Record<string, string> {
  return { name: repository.slice(project.length + 1), namespace: project, repo_full_name: repository, repo_type: context.repoType };
}
