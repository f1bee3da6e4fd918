/** The admin console: admins, owners and operators (the API checks each call as well, and asks for MFA). */
import type { PageRoute } from "../../route.ts";

export const adminRoutes: PageRoute[] = [
  { path: "/admin", title: "Admin", access: "admin", load: () => import("./admin-page.tsx") },
  { path: "/admin/system", title: "System", access: "admin", load: () => import("./system-page.tsx") },
  { path: "/admin/ops/:id", title: "Ops run", access: "admin", load: () => import("./run-page.tsx") },
  { path: "/admin/ops", title: "Ops runs", access: "admin", load: () => import("./ops-page.tsx") },
  { path: "/admin/schedulers", title: "Schedulers", access: "admin", load: () => import("./schedulers-page.tsx") },
  { path: "/admin/people", title: "Organisations and users", access: "admin", load: () => import("./people-page.tsx") },
  { path: "/admin/audit", title: "Audit log", access: "admin", load: () => import("./audit-page.tsx") },
  { path: "/admin/security", title: "Keys and access", access: "admin", load: () => import("./security-page.tsx") },
];
