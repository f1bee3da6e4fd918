import { expect, test } from "bun:test";
import { organisationScopes } from "./organisation-scopes.ts";

test("a known organisation is answered from memory, the same object each time; an unknown one is re-read after a second", async () => {
  const workspaces = new Map([["o-1", "w-1"]]);
  let reads = 0;
  let now = 0;
  const scopeOf = organisationScopes(
    {
      defaultWorkspace: async (orgId) => {
        reads++;
        return workspaces.get(orgId);
      },
    },
    { monotonic: () => now },
  );
  const first = await scopeOf("o-1");
  expect(first).toEqual({ orgId: "o-1", workspaceId: "w-1" });
  const again = scopeOf("o-1");
  expect(again).toBe(first);
  expect(reads).toBe(1);

  expect(await scopeOf("o-2")).toBeUndefined();
  expect(scopeOf("o-2")).toBeUndefined();
  expect(reads).toBe(2);
  // Made meanwhile on another node: found once the unknown answer has aged.
  workspaces.set("o-2", "w-2");
  now += 1000;
  expect(await scopeOf("o-2")).toEqual({ orgId: "o-2", workspaceId: "w-2" });
  expect(reads).toBe(3);
});
