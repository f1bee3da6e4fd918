/** The admin console: admins, owners and operators (the API checks each call as well). */
import type { PageRoute } from "../../route.ts";

export const adminRoutes: PageRoute[] = [
  { path: "/admin", title: "Admin", access: "admin", load: () => import("./admin-page.tsx") },
];
