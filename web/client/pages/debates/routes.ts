/** The debates area: any member of the organisation. */
import type { PageRoute } from "../../route.ts";

export const debatesRoutes: PageRoute[] = [
  { path: "/debates", title: "Debates", access: "signed-in", load: () => import("./debates-page.tsx") },
];
