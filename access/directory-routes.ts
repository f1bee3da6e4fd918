/**
 * The platform operator's directory of every organisation and every account, for the admin
 * console (an organisation's admins use GET /api/org/members, scoped to their own):
 *
 * - `GET /api/admin/organisations?limit=` every organisation with its count of live members;
 * - `GET /api/admin/users?org_id=&limit=` live accounts with their memberships (organisation,
 *   role), or only one organisation's members.
 *
 * Both need `admin.read`, a permission no organisation role grants, and as admin routes a person's
 * session that passed MFA (runtime/http/admin-gate.ts): an organisation's owner is refused, so
 * nobody sees another organisation's people through them but the operator. No secret is answered
 * (no password hash, no MFA state beyond what the account is).
 *
 * @example
 * curl -H "Authorization: Bearer $ARAGORA_API_TOKEN" 'localhost:8080/api/admin/users?org_id=o-0190...'
 * # {"users":[{"id":"u-...","email":"ada@example.com","name":"Ada","is_operator":false,"created_at":"...",
 * #   "memberships":[{"org_id":"o-0190...","org_name":"Acme","role":"owner"}]}]}
 */
import { type } from "arktype";
import { Elysia } from "elysia";
import { accessControl } from "../runtime/http/permission.ts";
import { responses, validated } from "../runtime/http/route-schemas.ts";
import { ORG_ROLES } from "../runtime/security/rbac.ts";
import { ErrorBody } from "../schemas/errors.ts";
import { lazy } from "../schemas/lazy.ts";
import type { AccessStore } from "./access-store.ts";

/** How many rows one answer holds when `limit` is not given. */
const DEFAULT_LIMIT = 200;

/** `limit`: built inside the schemas below when first used, not at start-up. */
const limit = () =>
  type("string.integer.parse |> 1 <= number.integer <= 1000").describe("rows at most (1-1000, default 200)");

export const OrganisationDirectoryQuery = lazy(() => type({ "limit?": limit(), "+": "reject" }));

export const UserDirectoryQuery = lazy(() =>
  type({
    "org_id?": type("1 <= string <= 128").describe("only this organisation's members"),
    "limit?": limit(),
    "+": "reject",
  }),
);

export const OrganisationDirectoryResponse = lazy(() =>
  type({
    organisations: type({
      id: "string",
      name: "string",
      created_at: "string",
      members: type("number.integer >= 0").describe("live accounts that are members"),
    }).array(),
  }),
);

export const UserDirectoryResponse = lazy(() =>
  type({
    users: type({
      id: "string",
      email: "string",
      name: "string",
      is_operator: "boolean",
      created_at: "string",
      memberships: type({ org_id: "string", org_name: "string", role: type.enumerated(...ORG_ROLES) }).array(),
    }).array(),
  }),
);

/**
 * @example app.use(directoryRoutes({ store }));
 */
export function directoryRoutes(deps: { store: Pick<AccessStore, "organisationDirectory" | "userDirectory"> }) {
  const { store } = deps;
  const tags = ["admin"];
  return new Elysia({ name: "aragora-directory", prefix: "/api/admin" })
    .use(accessControl)
    .get(
      "/organisations",
      async ({ query }) => ({
        organisations: (await store.organisationDirectory({ limit: query.limit ?? DEFAULT_LIMIT })).map((o) => ({
          id: o.id,
          name: o.name,
          created_at: o.createdAt.toISOString(),
          members: o.members,
        })),
      }),
      {
        permission: "admin.read",
        query: validated(OrganisationDirectoryQuery, "query"),
        detail: { tags, summary: "Every organisation with its count of members (the operator's, with MFA)" },
        response: responses({ 200: OrganisationDirectoryResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    )
    .get(
      "/users",
      async ({ query }) => ({
        users: (await store.userDirectory({ orgId: query.org_id, limit: query.limit ?? DEFAULT_LIMIT })).map((u) => ({
          id: u.id,
          email: u.email,
          name: u.name,
          is_operator: u.isOperator,
          created_at: u.createdAt.toISOString(),
          memberships: u.memberships.map((m) => ({
            org_id: m.orgId,
            org_name: m.orgName,
            role: m.role as (typeof ORG_ROLES)[number],
          })),
        })),
      }),
      {
        permission: "admin.read",
        query: validated(UserDirectoryQuery, "query"),
        detail: {
          tags,
          summary: "Accounts with their organisations and roles, all or one organisation's (the operator's, with MFA)",
        },
        response: responses({ 200: UserDirectoryResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    );
}
