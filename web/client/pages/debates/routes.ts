/** The debates area: any member of the organisation. */
import type { PageRoute } from "../../route.ts";

export const debatesRoutes: PageRoute[] = [
  { path: "/debates", title: "Debates", access: "signed-in", load: () => import("./debates-page.tsx") },
  {
    path: "/debates/leaderboard",
    title: "Leaderboard",
    access: "signed-in",
    load: () => import("./leaderboard-page.tsx"),
  },
  { path: "/debates/verify", title: "Verify a receipt", access: "signed-in", load: () => import("./receipt-page.tsx") },
  {
    path: "/debates/:id/receipt",
    title: "Decision receipt",
    access: "signed-in",
    load: () => import("./receipt-page.tsx"),
  },
  { path: "/debates/new", title: "Start a debate", access: "signed-in", load: () => import("./start-debate-page.tsx") },
  { path: "/debates/:id", title: "Debate", access: "signed-in", load: () => import("./debate-page.tsx") },
];
