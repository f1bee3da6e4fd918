/**
 * The admin console's start: the organisation's members and their roles (GET /api/org/members).
 */
import { me } from "../../session.ts";
import { Loading, messageOf, Notice, useApi } from "../../ui.tsx";

interface Member {
  user_id: string;
  email: string;
  name: string;
  role: string;
}

export default function AdminPage() {
  const members = useApi<{ members: Member[] }>("/api/org/members");
  return (
    <section>
      <h1>Admin</h1>
      <p>Organisation: {me.value?.organisation.name}</p>
      <h2>Members</h2>
      {members.loading && <Loading />}
      {members.error && <Notice kind="error">{messageOf(members.error)}</Notice>}
      {members.data && (
        <div class="table-scroll">
          <table>
            <caption class="visually-hidden">Members of the organisation</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
              </tr>
            </thead>
            <tbody>
              {members.data.members.map((m) => (
                <tr key={m.user_id}>
                  <td>{m.name}</td>
                  <td>{m.email}</td>
                  <td>{m.role}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
