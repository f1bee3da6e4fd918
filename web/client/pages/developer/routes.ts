/** The developer portal: any signed-in user (each section says when the person's role cannot use it). */
import type { PageRoute } from "../../route.ts";

export const developerRoutes: PageRoute[] = [
  { path: "/developer", title: "Developer", access: "signed-in", load: () => import("./developer-page.tsx") },
  { path: "/developer/usage", title: "Usage and cost", access: "signed-in", load: () => import("./usage-page.tsx") },
  { path: "/developer/webhooks", title: "Webhooks", access: "signed-in", load: () => import("./webhooks-page.tsx") },
  {
    path: "/developer/webhooks/:id",
    title: "Webhook",
    access: "signed-in",
    load: () => import("./webhook-page.tsx"),
  },
  {
    path: "/developer/integrations",
    title: "Integrations",
    access: "signed-in",
    load: () => import("./integrations-page.tsx"),
  },
  {
    path: "/developer/quick-start",
    title: "Quick start",
    access: "signed-in",
    load: () => import("./quick-start-page.tsx"),
  },
];
