/**
 * The console's entry: the theme, the router, who is signed in, then the layout and the page.
 * The server's HTML shell (web/shell.ts) loads this module and its style sheet; nothing else runs.
 */
import "./styles.css";
import { render } from "preact";
import { Layout } from "./layout.tsx";
import { Outlet } from "./outlet.tsx";
import { startRouter } from "./router.ts";
import { loadMe, me } from "./session.ts";
import { applyTheme } from "./theme.ts";

applyTheme();
startRouter();
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
