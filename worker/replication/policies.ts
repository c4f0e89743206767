// A replication policy (issue 11, "Replication policies"): what to copy, from where to where, and
// when. This module parses a policy body into a PolicySpec and answers the filter questions the
// listing and the event trigger ask; it does no I/O (whether the registries and the project a
// policy names exist is checked by services/management/replication.ts).
//
// - Exactly one of source/destination is null, meaning this Pier: pull mode copies from a remote
//   into a local project, push mode copies local content out. An absent field counts as null.
// - Filters are patterns (lifecycle/patterns.ts: `*` within a path segment, `**` across
//   segments, `?`, `{a,b}`), matched against the whole source repository name ("library/nginx",
//   "team/**") and against tags ("1.*"). Absent: "**" (everything). A literal repository filter
//   (no pattern characters) names one repository, which is listed directly, without a catalog.
// - A repository `a/b` lands at `<destinationNamespace>/a/b`, or `a/b` without a namespace.
import { parseSchedule, ScheduleError } from "../lifecycle/cron";
import { checkPattern, matchesPattern } from "../lifecycle/patterns";
import { tryParseRepoName } from "../oci/names";
import type { PolicyRow } from "../storage/db/queries/replication-policies";
import { type Body, invalid, parseObject } from "../services/management/inputs";

export type TriggerType = "manual" | "scheduled" | "event";

export interface PolicySpec {
  name: string;
  source: string | null;
  destination: string | null;
  destinationNamespace: string | null;
  filters: { repositories: string; tags: string; artifactTypes: string[] | null };
  trigger: { type: TriggerType; cron: string | null };
  override: boolean;
  replicateDeletion: boolean;
  enabled: boolean;
  bandwidthMbps: number | null;
  concurrency: number;
}

/** What the filter questions need of a policy (a PolicySpec, or a stored row mapped to one). */
export type PolicyFilters = Pick<PolicySpec, "filters" | "destinationNamespace">;

/** A scheduled policy's schedule is named "replication:<policy>" (lifecycle/scheduled-jobs.ts). */
export const SCHEDULE_PREFIX = "replication:";
export const DEFAULT_CONCURRENCY = 4;
/** Copies in flight per execution at most: each is a queue consumer with its own subrequests. */
export const MAX_CONCURRENCY = 32;
/** 100 Gbit/s: beyond what one execution can reach; a bigger number is a typing mistake. */
const MAX_BANDWIDTH_MBPS = 100_000;
const MAX_ARTIFACT_TYPES = 20;
const MAX_NAME = 64;
// One schedule-name target (services/management/schedules.ts SCHEDULE_NAME), starting with a letter or digit.
const POLICY_NAME = /^[a-z0-9][a-z0-9._-]*$/;

const BODY_FIELDS = new Set(["name", "source", "destination", "destinationNamespace", "filters", "trigger", "override", "replicateDeletion", "enabled", "bandwidthMbps", "concurrency"]);
const FILTER_FIELDS = new Set(["repositories", "tags", "artifactTypes"]);
const TRIGGER_FIELDS = new Set(["type", "cron"]);
const TRIGGERS: readonly TriggerType[] = ["manual", "scheduled", "event"];

export function policyScheduleName(policy: string): string {
  return `${SCHEDULE_PREFIX}${policy}`;
}

/**
 * Parses a policy body (POST, or PUT with `pathName` the policy's name, which a body's "name"
 * may repeat but not change). Every refusal is 400 INVALID_REQUEST naming the field.
 */
export function parsePolicy(body: Body, pathName?: string): PolicySpec {
  refuseUnknown(body, BODY_FIELDS, "the body", "a policy");
  const name = parsePolicyName(pathName ?? body.name);
  if (pathName !== undefined && body.name !== undefined && body.name !== pathName) throw invalid(`"name" is "${String(body.name).slice(0, 64)}" but the path names "${pathName}"; a policy cannot be renamed`);
  const source = parseEnd(body.source, "source");
  const destination = parseEnd(body.destination, "destination");
  if ((source === null) === (destination === null)) {
    throw invalid('exactly one of "source" and "destination" must name a remote registry; the other is null (this Pier): pull mode has a source, push mode a destination');
  }
  const trigger = parseTrigger(body.trigger);
  if (trigger.type === "event" && source !== null) throw invalid('an "event" trigger needs push mode ("source": null): events are pushes and deletions in this Pier');
  return {
    name,
    source,
    destination,
    destinationNamespace: parseNamespace(body.destinationNamespace),
    filters: parseFilters(body.filters),
    trigger,
    override: flag(body, "override", true),
    replicateDeletion: flag(body, "replicateDeletion", false),
    enabled: flag(body, "enabled", true),
    bandwidthMbps: optionalWhole(body.bandwidthMbps, "bandwidthMbps", 1, MAX_BANDWIDTH_MBPS),
    concurrency: optionalWhole(body.concurrency, "concurrency", 1, MAX_CONCURRENCY) ?? DEFAULT_CONCURRENCY,
  };
}

export function parsePolicyName(value: unknown): string {
  if (typeof value !== "string" || value.length > MAX_NAME || !POLICY_NAME.test(value)) {
    throw invalid(`"name" must be 1 to ${MAX_NAME} lowercase letters, digits, ".", "_" and "-", starting with a letter or digit`);
  }
  return value;
}

/** Whether a repository filter names exactly one repository (no pattern characters). */
export function isLiteral(pattern: string): boolean {
  return !/[*?{}]/.test(pattern);
}

export function repositoryMatches(policy: PolicyFilters, repository: string): boolean {
  return matchesPattern(policy.filters.repositories, repository);
}

export function tagMatches(policy: PolicyFilters, tag: string): boolean {
  return matchesPattern(policy.filters.tags, tag);
}

/** Where a source repository lands at the destination. */
export function destinationRepository(policy: PolicyFilters, repository: string): string {
  return policy.destinationNamespace === null ? repository : `${policy.destinationNamespace}/${repository}`;
}

/** A stored policy as the spec it was made from. */
export function policySpec(row: PolicyRow): PolicySpec {
  return {
    name: row.name,
    source: row.source,
    destination: row.destination,
    destinationNamespace: row.destinationNamespace,
    filters: {
      repositories: row.repositoryFilter ?? "**",
      tags: row.tagFilter ?? "**",
      artifactTypes: row.artifactTypes === null ? null : (JSON.parse(row.artifactTypes) as string[]),
    },
    trigger: { type: row.trigger, cron: row.cron },
    override: row.override,
    replicateDeletion: row.replicateDeletion,
    enabled: row.enabled,
    bandwidthMbps: row.bandwidthMbps,
    concurrency: row.concurrency,
  };
}

/** The row that stores a spec; `createdAt` is kept by a replacement. */
export function policyRow(spec: PolicySpec, createdAt: number, updatedAt: number): PolicyRow {
  return {
    name: spec.name,
    source: spec.source,
    destination: spec.destination,
    destinationNamespace: spec.destinationNamespace,
    repositoryFilter: spec.filters.repositories,
    tagFilter: spec.filters.tags,
    artifactTypes: spec.filters.artifactTypes === null ? null : JSON.stringify(spec.filters.artifactTypes),
    trigger: spec.trigger.type,
    cron: spec.trigger.cron,
    override: spec.override,
    replicateDeletion: spec.replicateDeletion,
    enabled: spec.enabled,
    concurrency: spec.concurrency,
    bandwidthMbps: spec.bandwidthMbps,
    createdAt,
    updatedAt,
  };
}

function parseEnd(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value === "" || value.length > 128) throw invalid(`"${field}" must be a remote registry's name, or null for this Pier`);
  return value;
}

function parseNamespace(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value.length > 128 || tryParseRepoName(value) === null) {
    throw invalid('"destinationNamespace" must be a repository path such as "mirror" or "team/mirror" (lowercase letters and digits, joined by . _ __ - and /), or null');
  }
  return value;
}

function parseFilters(value: unknown): PolicySpec["filters"] {
  if (value === undefined || value === null) return { repositories: "**", tags: "**", artifactTypes: null };
  const filters = parseObject(value, '"filters"');
  refuseUnknown(filters, FILTER_FIELDS, '"filters"', "filters");
  return {
    repositories: filters.repositories === undefined ? "**" : checkPattern(filters.repositories, '"filters.repositories"'),
    tags: filters.tags === undefined ? "**" : checkPattern(filters.tags, '"filters.tags"'),
    artifactTypes: parseArtifactTypes(filters.artifactTypes),
  };
}

function parseArtifactTypes(value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  const valid = (item: unknown) => typeof item === "string" && item.length > 0 && item.length <= 255;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ARTIFACT_TYPES || !value.every(valid)) {
    throw invalid(`"filters.artifactTypes" must be a list of 1 to ${MAX_ARTIFACT_TYPES} media types (such as "application/vnd.oci.image.config.v1+json"), or null for every type`);
  }
  return [...new Set(value as string[])];
}

function parseTrigger(value: unknown): PolicySpec["trigger"] {
  if (value === undefined || value === null) return { type: "manual", cron: null };
  const trigger = parseObject(value, '"trigger"');
  refuseUnknown(trigger, TRIGGER_FIELDS, '"trigger"', "a trigger");
  const type = trigger.type;
  if (typeof type !== "string" || !(TRIGGERS as readonly string[]).includes(type)) throw invalid(`"trigger.type" must be one of ${TRIGGERS.join(", ")}`);
  if (type !== "scheduled") {
    if (trigger.cron !== undefined && trigger.cron !== null) throw invalid(`"trigger.cron" is for scheduled triggers only, not "${type}"`);
    return { type: type as TriggerType, cron: null };
  }
  if (typeof trigger.cron !== "string") throw invalid('a scheduled trigger needs "trigger.cron": "hourly", "daily", "weekly" or five cron fields (UTC)');
  try {
    parseSchedule(trigger.cron);
  } catch (error) {
    if (error instanceof ScheduleError) throw invalid(`"trigger.cron": ${error.message}`);
    throw error;
  }
  return { type: "scheduled", cron: trigger.cron };
}

function flag(body: Body, field: string, fallback: boolean): boolean {
  const value = body[field];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw invalid(`"${field}" must be true or false`);
  return value;
}

function optionalWhole(value: unknown, field: string, min: number, max: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw invalid(`"${field}" must be a whole number from ${min} to ${max}`);
  return value;
}

function refuseUnknown(object: Body, known: Set<string>, where: string, what: string): void {
  const unknown = Object.keys(object).find((key) => !known.has(key));
  if (unknown !== undefined) throw invalid(`${where} has an unknown field "${unknown.slice(0, 50)}"; ${what} has ${[...known].map((key) => `"${key}"`).join(", ")}`);
}
