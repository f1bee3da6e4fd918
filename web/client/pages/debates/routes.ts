/** The debates area: any member of the organisation. */
import type { PageRoute } from "../../route.ts";

export const debatesRoutes: PageRoute[] = [
  { path: "/debates", title: "Debates", access: "signed-in", load: () => import("./debates-page.tsx") },
  { path: "/debates/new", title: "Start a debate", access: "signed-in", load: () => import("./start-debate-page.tsx") },
  { path: "/debates/:id", title: "Debate", access: "signed-in", load: () => import("./debate-page.tsx") },
];
