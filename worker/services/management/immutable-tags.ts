// A project's tag immutability rules (worker/lifecycle/immutability.ts says what they do):
// read by anyone who sees the project, replaced as a whole by those who manage it.
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { type ImmutableTagRule, storedRules } from "../../lifecycle/immutability";
import { database } from "../../storage/db/client";
import { setImmutableTagRules } from "../../storage/db/queries/immutability";
import type { Actor } from "./actor";
import { audit } from "./audit-trail";
import { projectFor, projectUnknown } from "./guard";

export interface ImmutableTagRulesView {
  rules: ImmutableTagRule[];
}

export async function getImmutableTagRules(env: Bindings, actor: Actor, name: string): Promise<ImmutableTagRulesView> {
  const project = await projectFor(env, actor, name, "pull", { action: "project.read", resource: name });
  return { rules: storedRules(project) };
}

/** Replaces the rules; they apply from the next push or delete on. */
export async function setImmutableTags(env: Bindings, actor: Actor, name: string, rules: ImmutableTagRule[]): Promise<ImmutableTagRulesView> {
  const entry = { action: "project.immutable-tags", resource: name };
  const project = await projectFor(env, actor, name, "manageProject", entry);
  if (project.kind === "proxy") {
    throw new RegistryError("INVALID_REQUEST", `"${name}" is the project of an upstream; its tags follow the upstream, and no rule applies to them`);
  }
  if (!(await setImmutableTagRules(database(env.DB), name, JSON.stringify(rules)))) throw projectUnknown(name);
  await audit(env, actor, { ...entry, project: name });
  return { rules };
}
