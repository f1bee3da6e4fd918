import { describe, expect, test } from "bun:test";
import { ADMIN_PERMISSIONS, adminRefusal, isAdminRoute } from "./admin-gate.ts";
import type { Principal } from "./principal.ts";

const person = (extra: Partial<Principal> = {}): Principal => ({
  kind: "user",
  userId: "u-1",
  orgId: "o-1",
  workspaceId: "w-1",
  roles: ["owner", "operator"],
  via: "bearer",
  ...extra,
});
const operatorToken: Principal = {
  kind: "operator",
  userId: null,
  orgId: "o-1",
  workspaceId: "w-1",
  roles: ["operator"],
  via: "operator_token",
};
const key = (kind: "api_key" | "service"): Principal => ({
  ...person(),
  kind,
  roles: ["owner"],
  keyId: "k-1",
  via: "api_key",
});

describe("admin routes", () => {
  test("are the platform's permissions (no organisation role grants them), every admin.*, and anything under /api/admin/", () => {
    for (const p of [
      "admin.read",
      "admin.write",
      "admin.impersonate",
      "ops.run",
      "system.read",
      "metrics.read",
    ] as const) {
      expect(ADMIN_PERMISSIONS.has(p)).toBe(true);
    }
    for (const p of ["debates.read", "keys.manage", "audit.read", "org.manage", "account.self"] as const) {
      expect(ADMIN_PERMISSIONS.has(p)).toBe(false);
    }
    expect(isAdminRoute("audit.read", "/api/admin/audit")).toBe(true);
    expect(isAdminRoute("audit.read", "/api/audit")).toBe(false);
    expect(isAdminRoute("debates.read", "/api/debates/:id")).toBe(false);
    expect(isAdminRoute("ops.read")).toBe(true);
  });
});

describe("adminRefusal", () => {
  test("a person needs a session that passed a second factor; with one, or off admin routes, nothing is asked", () => {
    expect(adminRefusal(person(), "admin.read", "/api/admin/log-level")?.code).toBe("mfa_required");
    expect(adminRefusal(person({ mfa: false }), "audit.read", "/api/admin/audit")?.code).toBe("mfa_required");
    expect(adminRefusal(person({ mfa: true }), "admin.read", "/api/admin/log-level")).toBeUndefined();
    expect(adminRefusal(person(), "debates.read", "/api/debates")).toBeUndefined();
    const refusal = adminRefusal(person(), "ops.run", "/api/ops/runs");
    expect(refusal?.status).toBe(403);
    expect(refusal?.message).toContain("POST /api/auth/mfa/totp/enroll");
  });

  test("an API key never reaches an admin route, whatever its role; elsewhere it is not asked", () => {
    for (const kind of ["api_key", "service"] as const) {
      expect(adminRefusal(key(kind), "audit.read", "/api/admin/audit")?.code).toBe("mfa_required");
      expect(adminRefusal({ ...key(kind), mfa: true }, "audit.read", "/api/admin/audit")?.code).toBe("mfa_required");
      expect(adminRefusal(key(kind), "keys.manage", "/api/auth/api-keys")).toBeUndefined();
    }
  });

  test("an impersonation token is refused on an admin route even when its session says MFA", () => {
    const acting = person({ roles: ["owner"], actor: { userId: "u-op" }, mfa: true });
    expect(adminRefusal(acting, "audit.read", "/api/admin/audit")?.code).toBe("impersonation_forbidden");
    expect(adminRefusal(acting, "debates.read", "/api/debates")).toBeUndefined();
  });

  test("the operator's token, a machine credential, passes", () => {
    expect(adminRefusal(operatorToken, "admin.write", "/api/admin/log-level")).toBeUndefined();
    expect(adminRefusal(operatorToken, "ops.run", "/api/ops/runs")).toBeUndefined();
  });
});
