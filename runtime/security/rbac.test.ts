import { describe, expect, test } from "bun:test";
import {
  canGrantRole,
  compilePolicy,
  DEFAULT_POLICY_TABLE,
  highestRank,
  isRole,
  ORG_ROLES,
  PERMISSIONS,
  type PolicyTable,
  policy,
  ROLES,
  roleRank,
} from "./rbac.ts";

const PLATFORM = /^(admin|ops|system|metrics)\./;

describe("the default policy", () => {
  test("a viewer only reads, and reads only organisation resources", () => {
    const granted = policy.permissionsOf(["viewer"]);
    expect(granted).toEqual([
      "account.self",
      "agents.read",
      "debates.read",
      "leaderboard.read",
      "receipts.read",
      "workflows.read",
    ]);
  });

  test("a member adds starting, cancelling and exporting debates and running workflows, nothing that manages", () => {
    const added = policy.permissionsOf(["member"]).filter((p) => !policy.can(["viewer"], p));
    expect(added).toEqual(["debates.cancel", "debates.create", "debates.export", "workflows.execute"]);
  });

  test("an admin adds keys, members, webhooks, integrations, audit, usage and every workflow action", () => {
    const added = policy.permissionsOf(["admin"]).filter((p) => !policy.can(["member"], p));
    expect(added).toEqual([
      "audit.read",
      "integrations.manage",
      "keys.manage",
      "members.manage",
      "usage.read",
      "webhooks.manage",
      "workflows.approve",
      "workflows.create",
      "workflows.delete",
      "workflows.update",
    ]);
  });

  test("an owner adds the organisation and billing", () => {
    const added = policy.permissionsOf(["owner"]).filter((p) => !policy.can(["admin"], p));
    expect(added).toEqual(["billing.manage", "billing.read", "org.manage"]);
  });

  test("no organisation role, not even owner, holds a platform permission (admin.*, ops.*, system.*, metrics.*)", () => {
    for (const role of ORG_ROLES) {
      expect(policy.permissionsOf([role]).filter((p) => PLATFORM.test(p))).toEqual([]);
    }
    expect(policy.can(["owner"], "admin.impersonate")).toBe(false);
  });

  test("the operator holds every permission", () => {
    expect(policy.permissionsOf(["operator"])).toEqual([...PERMISSIONS].sort());
    for (const p of PERMISSIONS) expect(policy.can(["operator"], p)).toBe(true);
  });

  test("roles combine: the union of what each grants", () => {
    expect(policy.can(["viewer", "owner"], "org.manage")).toBe(true);
    expect(policy.permissionsOf(["viewer", "member"])).toEqual(policy.permissionsOf(["member"]));
  });

  test("unknown roles grant nothing and unknown permissions are never granted", () => {
    expect(policy.can(["root"], "debates.read")).toBe(false);
    expect(policy.can([], "debates.read")).toBe(false);
    expect(policy.can(["operator"], "debates.delete")).toBe(false);
    expect(policy.can(["operator"], "*")).toBe(false);
    expect(policy.can(["operator"], "admin.*")).toBe(false);
    expect(policy.can(["operator"], "__proto__")).toBe(false);
    expect(policy.can(["__proto__", "constructor"], "debates.read")).toBe(false);
    expect(policy.permissionsOf(["root"])).toEqual([]);
  });
});

describe("compilePolicy", () => {
  const base: PolicyTable = DEFAULT_POLICY_TABLE;

  test("a resource wildcard grants every action of that resource and nothing else", () => {
    const custom = compilePolicy({ ...base, viewer: { grants: ["ops.*"] } });
    expect(custom.permissionsOf(["viewer"])).toEqual(["ops.approve", "ops.read", "ops.run"]);
    expect(custom.can(["viewer"], "debates.read")).toBe(false);
  });

  test("inheritance follows chains: a change to viewer reaches owner", () => {
    const custom = compilePolicy({ ...base, viewer: { grants: ["metrics.read"] } });
    expect(custom.can(["owner"], "metrics.read")).toBe(true);
    expect(custom.can(["owner"], "debates.read")).toBe(false);
  });

  test("a pattern that matches no permission is refused (a typo would silently grant nothing)", () => {
    // The cast stands in for a table built from untyped data.
    const typo = { ...base, member: { grants: ["debates.creat"] } } as unknown as PolicyTable;
    expect(() => compilePolicy(typo)).toThrow(/role "member" grants "debates.creat", which matches no permission/);
    const wild = { ...base, member: { grants: ["nothing.*"] } } as unknown as PolicyTable;
    expect(() => compilePolicy(wild)).toThrow(/matches no permission/);
  });

  test("an inheritance cycle, an unknown parent and a missing role are refused", () => {
    expect(() => compilePolicy({ ...base, viewer: { inherits: "owner", grants: ["debates.read"] } })).toThrow(
      /inheritance cycle viewer -> owner -> admin -> member -> viewer/,
    );
    const unknownParent = { ...base, member: { inherits: "guest", grants: [] } } as unknown as PolicyTable;
    expect(() => compilePolicy(unknownParent)).toThrow(/role "member" inherits unknown role "guest"/);
    const { operator: _, ...missing } = base;
    expect(() => compilePolicy(missing as PolicyTable)).toThrow(/no entry for role "operator"/);
  });
});

describe("ranks", () => {
  test("viewer < member < admin < owner < operator", () => {
    const ranks = ROLES.map(roleRank);
    expect(ranks).toEqual([1, 2, 3, 4, 5]);
    expect(highestRank(["viewer", "admin", "bogus"])).toBe(3);
    expect(highestRank([])).toBe(0);
  });

  test("a role can be granted only up to the granter's highest role", () => {
    expect(canGrantRole(["admin"], "admin")).toBe(true);
    expect(canGrantRole(["admin"], "member")).toBe(true);
    expect(canGrantRole(["admin"], "owner")).toBe(false);
    expect(canGrantRole(["owner"], "operator")).toBe(false);
    expect(canGrantRole(["member", "owner"], "owner")).toBe(true);
    expect(canGrantRole([], "viewer")).toBe(false);
    expect(canGrantRole(["superuser"], "viewer")).toBe(false);
  });

  test("isRole narrows untrusted strings", () => {
    expect(isRole("owner")).toBe(true);
    expect(isRole("Owner")).toBe(false);
    expect(isRole("toString")).toBe(false);
  });
});
