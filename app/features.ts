/**
 * The server's features, made in start order (the server stops them in reverse). Each factory
 * gets the shared parts and, as typed arguments, what it needs from the features made before it:
 * the order is written here, once, in code the compiler checks.
 *
 * @example
 * const features = await makeFeatures(ctx); // access, agents, debates, runbooks, schedulers
 */
import { accessFeature } from "../access/feature.ts";
import { agentsFeature } from "../actors/agent/feature.ts";
import { debatesFeature } from "../actors/debate/index.ts";
import { runbooksFeature } from "../actors/runbook/feature.ts";
import { schedulersFeature } from "../actors/scheduler/feature.ts";
import type { Feature, FeatureContext } from "../runtime/feature.ts";

/** Make every feature; `made` receives each as it is made, so a failure part-way can stop those. */
export async function makeFeatures(ctx: FeatureContext, made: Feature[] = []): Promise<Feature[]> {
  // First: every other feature's routes are behind its authenticator.
  const access = await accessFeature(ctx);
  made.push(access);
  const agents = agentsFeature(ctx);
  made.push(agents);
  const debates = await debatesFeature(ctx, { agents: agents.agents });
  made.push(debates);
  const runbooks = await runbooksFeature(ctx);
  made.push(runbooks);
  made.push(await schedulersFeature(ctx, { runbooks: runbooks.runbooks, receipts: debates.receipts }));
  return made;
}
