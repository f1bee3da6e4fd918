/**
 * Organisations and users across the platform, for the operator (GET /api/admin/organisations and
 * /api/admin/users): every organisation with its member count, and every account with its
 * organisations and roles; choosing an organisation shows only its members (`?org_id=` in the
 * address, so the view can be shared). Each account links to "View as this user" (impersonation), with its id filled in.
 */
import { when } from "../../format.ts";
import type { PageProps } from "../../route.ts";
import { StatusBadge, useApi } from "../../ui.tsx";
import { AdminFrame, Loaded, Table } from "./admin-frame.tsx";

interface Organisation {
  id: string;
  name: string;
  created_at: string;
  members: number;
}

interface User {
  id: string;
  email: string;
  name: string;
  is_operator: boolean;
  created_at: string;
  memberships: { org_id: string; org_name: string; role: string }[];
}

export default function PeoplePage({ query }: PageProps) {
  const orgId = query.get("org_id") ?? "";
  const organisations = useApi<{ organisations: Organisation[] }>("/api/admin/organisations?limit=1000");
  const users = useApi<{ users: User[] }>(
    `/api/admin/users?limit=1000${orgId ? `&org_id=${encodeURIComponent(orgId)}` : ""}`,
  );
  const chosen = organisations.data?.organisations.find((o) => o.id === orgId);
  return (
    <AdminFrame title="Organisations and users">
      <h2>Organisations</h2>
      <Loaded state={organisations}>
        {({ organisations: list }) => (
          <Table caption="Organisations" head={["Organisation", "Members", "Created"]}>
            {list.map((o) => (
              <tr key={o.id}>
                <td>
                  <a
                    href={`/admin/people?org_id=${encodeURIComponent(o.id)}`}
                    aria-current={o.id === orgId ? "true" : undefined}
                  >
                    {o.name}
                  </a>
                  <br />
                  <span class="mono muted">{o.id}</span>
                </td>
                <td>{o.members}</td>
                <td>{when(o.created_at)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
      <h2>{orgId ? `Members of ${chosen?.name ?? orgId}` : "Users"}</h2>
      {orgId && (
        <p>
          <a href="/admin/people">Show every user</a>
        </p>
      )}
      <Loaded state={users}>
        {({ users: list }) =>
          list.length === 0 ? (
            <p>No users.</p>
          ) : (
            <Table caption="Users" head={["User", "Organisations and roles", "Created", ""]}>
              {list.map((u) => (
                <tr key={u.id}>
                  <td>
                    {u.name} {u.is_operator && <StatusBadge status="operator" tone="warn" />}
                    <br />
                    {u.email}
                    <br />
                    <span class="mono muted">{u.id}</span>
                  </td>
                  <td>
                    <ul class="plain">
                      {u.memberships.map((m) => (
                        <li key={m.org_id}>
                          {m.org_name}: {m.role}
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td>{when(u.created_at)}</td>
                  <td>
                    {!u.is_operator && (
                      <a href={`/admin/security?user_id=${encodeURIComponent(u.id)}`}>View as {u.name}</a>
                    )}
                  </td>
                </tr>
              ))}
            </Table>
          )
        }
      </Loaded>
    </AdminFrame>
  );
}
