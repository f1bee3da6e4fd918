/** The signed-in person's own account: its second factor (any signed-in person; the API checks it is their own session). */
import type { PageRoute } from "../../route.ts";

export const accountRoutes: PageRoute[] = [
  {
    path: "/account/security",
    title: "Account security",
    access: "signed-in",
    load: () => import("./security-page.tsx"),
  },
];
