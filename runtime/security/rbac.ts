/**
 * Role-based access control: permissions are `<resource>.<action>`, an organisation role grants a
 * set of them (through one table), and the platform `operator` holds every one. The table is
 * compiled once into a bitset per role, so a check on the request path is a map lookup and a few
 * bit tests rather than a walk over patterns.
 */

/**
 * Every permission Aragora knows, `<resource>.<action>`. A route names the one it needs.
 *
 * @example
 * PERMISSIONS.includes("debates.create"); // true
 */
export const PERMISSIONS = [
  "account.self",
  "debates.create",
  "debates.read",
  "debates.cancel",
  "debates.export",
  "receipts.read",
  "leaderboard.read",
  "agents.read",
  "workflows.read",
  "workflows.create",
  "workflows.update",
  "workflows.delete",
  "workflows.execute",
  "workflows.approve",
  "keys.manage",
  "members.manage",
  "org.manage",
  "billing.read",
  "billing.manage",
  "usage.read",
  "webhooks.manage",
  "integrations.manage",
  "audit.read",
  "admin.read",
  "admin.write",
  "admin.impersonate",
  "ops.read",
  "ops.run",
  "ops.approve",
  "system.read",
  "metrics.read",
] as const;

/** One of {@link PERMISSIONS}. */
export type Permission = (typeof PERMISSIONS)[number];
type ResourceOf<P> = P extends `${infer R}.${string}` ? R : never;
/** The resource part of a permission (`debates`, `workflows`, ...). */
export type Resource = ResourceOf<Permission>;
/** What a policy table may grant: one permission, every action on a resource (`workflows.*`), or everything (`*`). */
export type PermissionPattern = Permission | `${Resource}.*` | "*";

/**
 * The roles a member of an organisation can hold, lowest first.
 *
 * @example
 * ORG_ROLES.includes("admin"); // true
 */
export const ORG_ROLES = ["viewer", "member", "admin", "owner"] as const;
/** A role inside an organisation. */
export type OrgRole = (typeof ORG_ROLES)[number];

/**
 * Every role, lowest first: the organisation roles, then `operator`, the platform's own role.
 *
 * @example
 * ROLES.at(-1); // "operator"
 */
export const ROLES = [...ORG_ROLES, "operator"] as const;
/** An organisation role or the platform operator. */
export type Role = (typeof ROLES)[number];

/** What a role is given: everything another role has (`inherits`) plus `grants`. */
export interface RoleGrant {
  inherits?: Role;
  grants: readonly PermissionPattern[];
}

/** The whole policy: one {@link RoleGrant} per role. */
export type PolicyTable = Readonly<Record<Role, RoleGrant>>;

/**
 * Aragora's policy. Every role acts on its own account (`account.self`: who am I, sign out,
 * change my password, WebSocket tickets). A viewer reads; a member also starts, cancels and exports debates and runs
 * workflows; an admin also manages keys, members, webhooks, integrations and workflows, and reads
 * usage and the audit log; an owner also manages the organisation, reads billing and sets its cost cap. `admin.*`,
 * `ops.*`, `system.*` and `metrics.*` are the platform's, so only the operator holds them.
 *
 * @example
 * const policy = compilePolicy(DEFAULT_POLICY_TABLE);
 */
export const DEFAULT_POLICY_TABLE: PolicyTable = {
  viewer: {
    grants: ["account.self", "debates.read", "receipts.read", "leaderboard.read", "agents.read", "workflows.read"],
  },
  member: {
    inherits: "viewer",
    grants: ["debates.create", "debates.cancel", "debates.export", "workflows.execute"],
  },
  admin: {
    inherits: "member",
    grants: [
      "workflows.*",
      "keys.manage",
      "members.manage",
      "webhooks.manage",
      "integrations.manage",
      "audit.read",
      "usage.read",
    ],
  },
  owner: {
    inherits: "admin",
    grants: ["org.manage", "billing.read", "billing.manage"],
  },
  operator: {
    grants: ["*"],
  },
};

/** A compiled policy: answers "may these roles do this?" in well under a microsecond. */
export interface Policy {
  /**
   * Whether any of `roles` grants `permission`. Unknown roles grant nothing and unknown
   * permissions are never granted, so untrusted strings can be passed as they are.
   *
   * @example
   * policy.can(["member"], "debates.create"); // true
   */
  can(roles: readonly string[], permission: string): boolean;
  /**
   * Every permission `roles` grant together, sorted (for `/api/auth/me`).
   *
   * @example
   * policy.permissionsOf(["viewer"]); // ["agents.read", "debates.read", ...]
   */
  permissionsOf(roles: readonly string[]): Permission[];
}

const WORD_BITS = 32;
const WORDS = Math.ceil(PERMISSIONS.length / WORD_BITS);
const PERMISSION_INDEX = new Map<string, number>(PERMISSIONS.map((p, i) => [p, i]));

function expand(pattern: string, role: string): Permission[] {
  const matched =
    pattern === "*"
      ? [...PERMISSIONS]
      : pattern.endsWith(".*")
        ? PERMISSIONS.filter((p) => p.startsWith(pattern.slice(0, -1)))
        : PERMISSIONS.filter((p) => p === pattern);
  // A typo in the table would otherwise silently grant nothing.
  if (matched.length === 0)
    throw new Error(`policy table: role "${role}" grants "${pattern}", which matches no permission`);
  return matched;
}

/**
 * Precomputes `table` into one bitset per role (inheritance and wildcards resolved), refusing a
 * pattern that matches nothing, an unknown inherited role and an inheritance cycle.
 *
 * @example
 * const policy = compilePolicy({ ...DEFAULT_POLICY_TABLE, viewer: { grants: ["debates.read"] } });
 * policy.can(["viewer"], "agents.read"); // false
 */
export function compilePolicy(table: PolicyTable): Policy {
  const masks = new Map<string, Uint32Array>();

  const resolve = (role: string, path: string[]): Uint32Array => {
    const done = masks.get(role);
    if (done) return done;
    if (path.includes(role)) throw new Error(`policy table: inheritance cycle ${[...path, role].join(" -> ")}`);
    const grant = (table as Record<string, RoleGrant | undefined>)[role];
    if (grant === undefined) {
      const parent = path.at(-1);
      throw new Error(
        parent === undefined
          ? `policy table: no entry for role "${role}"`
          : `policy table: role "${parent}" inherits unknown role "${role}"`,
      );
    }
    const mask = new Uint32Array(WORDS);
    if (grant.inherits !== undefined) mask.set(resolve(grant.inherits, [...path, role]));
    for (const pattern of grant.grants) {
      for (const permission of expand(pattern, role)) {
        const i = PERMISSION_INDEX.get(permission) as number;
        mask[i >>> 5] = (mask[i >>> 5] as number) | (1 << (i & 31));
      }
    }
    masks.set(role, mask);
    return mask;
  };
  for (const role of ROLES) resolve(role, []);

  return {
    can(roles, permission) {
      const i = PERMISSION_INDEX.get(permission);
      if (i === undefined) return false;
      const word = i >>> 5;
      const bit = 1 << (i & 31);
      for (const role of roles) {
        const mask = masks.get(role);
        if (mask !== undefined && ((mask[word] as number) & bit) !== 0) return true;
      }
      return false;
    },
    permissionsOf(roles) {
      const union = new Uint32Array(WORDS);
      for (const role of roles) {
        const mask = masks.get(role);
        if (mask === undefined) continue;
        for (let w = 0; w < WORDS; w++) union[w] = (union[w] as number) | (mask[w] as number);
      }
      return PERMISSIONS.filter((_, i) => ((union[i >>> 5] as number) & (1 << (i & 31))) !== 0).sort();
    },
  };
}

/**
 * The compiled {@link DEFAULT_POLICY_TABLE}.
 *
 * @example
 * policy.can(token.roles, "keys.manage");
 */
export const policy: Policy = compilePolicy(DEFAULT_POLICY_TABLE);

/**
 * Whether `role` is one of {@link ROLES}; narrows an untrusted string.
 *
 * @example
 * if (!isRole(body.role)) throw new HttpError(400, "invalid_role", "role must be one of viewer, member, admin, owner");
 */
export function isRole(role: string): role is Role {
  return (ROLES as readonly string[]).includes(role);
}

/**
 * A role's place in the order viewer (1) < member (2) < admin (3) < owner (4) < operator (5).
 *
 * @example
 * roleRank("admin") > roleRank("member"); // true
 */
export function roleRank(role: Role): number {
  return ROLES.indexOf(role) + 1;
}

/**
 * The rank of the highest of `roles` (0 when none is a known role).
 *
 * @example
 * highestRank(["viewer", "admin"]); // 3
 */
export function highestRank(roles: readonly string[]): number {
  let rank = 0;
  for (const role of roles) if (isRole(role)) rank = Math.max(rank, roleRank(role));
  return rank;
}

/**
 * Whether someone holding `granterRoles` may hand out `role` (to an API key, an invitation, a
 * member): never a role above their own highest.
 *
 * @example
 * canGrantRole(["admin"], "owner"); // false
 */
export function canGrantRole(granterRoles: readonly string[], role: Role): boolean {
  return roleRank(role) <= highestRank(granterRoles);
}
