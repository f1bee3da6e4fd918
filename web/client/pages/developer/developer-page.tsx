/**
 * The developer portal's start: the organisation's API keys (GET /api/auth/api-keys, last four
 * characters only) and where the API is documented.
 */
import { when } from "../../format.ts";
import { me } from "../../session.ts";
import { Loading, messageOf, Notice, useApi } from "../../ui.tsx";

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  last_four: string;
  role: string;
  created_at: string;
}

function Keys() {
  const keys = useApi<{ api_keys: ApiKey[] }>("/api/auth/api-keys");
  if (keys.loading) return <Loading />;
  if (keys.error) return <Notice kind="error">{messageOf(keys.error)}</Notice>;
  const list = keys.data?.api_keys ?? [];
  if (list.length === 0) return <p>No API keys yet.</p>;
  return (
    <div class="table-scroll">
      <table>
        <caption class="visually-hidden">API keys</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Key</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {list.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>
                <code>
                  {k.prefix}…{k.last_four}
                </code>
              </td>
              <td>{k.role}</td>
              <td>{when(k.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function DeveloperPage() {
  const canManageKeys = me.value?.permissions.includes("keys.manage") ?? false;
  return (
    <section>
      <h1>Developer</h1>
      <p>
        Everything this console does goes through the public API, documented in the <a href="/swagger">Swagger UI</a>{" "}
        (OpenAPI at <code>/swagger/json</code>).
      </p>
      <h2>API keys</h2>
      {canManageKeys ? <Keys /> : <p>Your role cannot manage the organisation's API keys.</p>}
    </section>
  );
}
