import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "./config.ts";

describe("ARAGORA_WORKERS (the runbook's name) and its older name ARAGORA_PROVIDER_WORKERS", () => {
  test("ARAGORA_WORKERS sets the provider worker threads", () => {
    expect(loadConfig({ ARAGORA_WORKERS: "3" }).providerWorkers).toBe(3);
    expect(loadConfig({ ARAGORA_WORKERS: "0" }).providerWorkers).toBe(0);
  });

  test("the older name still works alone, and agrees with the new one", () => {
    expect(loadConfig({ ARAGORA_PROVIDER_WORKERS: "2" }).providerWorkers).toBe(2);
    expect(loadConfig({ ARAGORA_WORKERS: "2", ARAGORA_PROVIDER_WORKERS: "2" }).providerWorkers).toBe(2);
  });

  test("the two names set to different values are refused, naming both", () => {
    let error: unknown;
    try {
      loadConfig({ ARAGORA_WORKERS: "4", ARAGORA_PROVIDER_WORKERS: "1" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'ARAGORA_WORKERS="4" and ARAGORA_PROVIDER_WORKERS="1": are two names for one setting and disagree; expected one of them, or both set to the same value',
    ]);
  });

  test("a bad value is reported under the name it was given", () => {
    expect(() => loadConfig({ ARAGORA_WORKERS: "many" })).toThrow(/ARAGORA_WORKERS="many"/);
    expect(() => loadConfig({ ARAGORA_PROVIDER_WORKERS: "many" })).toThrow(/ARAGORA_PROVIDER_WORKERS="many"/);
  });
});
