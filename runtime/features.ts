/**
 * The server's features in start order (stopped in reverse). Each actor folder exports one factory.
 *
 * @example
 * export const FEATURES: FeatureFactory[] = [agentsFeature, debatesFeature, runbooksFeature, schedulersFeature];
 */
import { agentsFeature } from "../actors/agent/feature.ts";
import { debatesFeature } from "../actors/debate/index.ts";
import { runbooksFeature } from "../actors/runbook/feature.ts";
import { schedulersFeature } from "../actors/scheduler/feature.ts";
import type { FeatureFactory } from "./feature.ts";

export const FEATURES: FeatureFactory[] = [agentsFeature, debatesFeature, runbooksFeature, schedulersFeature];
