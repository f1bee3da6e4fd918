/** The ways in: sign-in (password, a provider, a second factor) and the first start's owner claim. */
import type { PageRoute } from "../../route.ts";

export const authRoutes: PageRoute[] = [
  { path: "/signin", title: "Sign in", access: "anyone", load: () => import("./signin-page.tsx") },
  { path: "/setup", title: "Claim the owner account", access: "anyone", load: () => import("./setup-page.tsx") },
];
