/** The developer portal: any signed-in user. */
import type { PageRoute } from "../../route.ts";

export const developerRoutes: PageRoute[] = [
  { path: "/developer", title: "Developer", access: "signed-in", load: () => import("./developer-page.tsx") },
];
