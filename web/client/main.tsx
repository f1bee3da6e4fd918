/**
 * The console's entry: the theme, the router, who is signed in, then the layout and the page.
 * The server's HTML shell (web/shell.ts) loads this module and its style sheet; nothing else runs.
 */
import "./styles.css";
import { render } from "preact";
import { onImpersonationEnded } from "./api.ts";
import { Layout } from "./layout.tsx";
import { Outlet } from "./outlet.tsx";
import { navigate, startRouter } from "./router.ts";
import { loadMe, me } from "./session.ts";
import { applyTheme } from "./theme.ts";

applyTheme();
startRouter();
// Viewing as a user ran out (15 minutes): the operator's own session is back; so is their page.
onImpersonationEnded(() => {
  loadMe()
    .then(() => navigate("/admin/security?ended=expired"))
    .catch(() => {
      me.value = null;
    });
});
loadMe().catch(() => {
  // The server could not say: treated as signed out; the sign-in page shows what the server answers.
  me.value = null;
});

function App() {
  return (
    <Layout>
      <Outlet />
    </Layout>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
