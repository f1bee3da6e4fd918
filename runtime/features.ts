/**
 * The server's features in start order (stopped in reverse). Each actor folder exports one factory.
 *
 * @example
 * export const FEATURES: FeatureFactory[] = [agentsFeature, debatesFeature];
 */
import type { FeatureFactory } from "./feature.ts";

export const FEATURES: FeatureFactory[] = [];
