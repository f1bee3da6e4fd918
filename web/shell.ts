/**
 * The HTML every console path answers with: the built style sheets and the entry module, an
 * empty #app the client fills, and a line for browsers without JavaScript. No inline script or
 * style (the CSP forbids both): the page is the same for every path and every visitor.
 *
 * @example
 * const html = shellHtml(manifest); // "<!doctype html>..."
 */
import { ASSETS_PATH, type ConsoleManifest } from "./build.ts";

const escapeAttribute = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/** The shell page for a build. */
export function shellHtml(manifest: ConsoleManifest): string {
  const href = (file: string) => escapeAttribute(`${ASSETS_PATH}${file}`);
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    "<title>Aragora</title>",
    // No favicon file to fetch (a 404 in every page's console): an empty one.
    '<link rel="icon" href="data:,">',
    ...manifest.styles.map((f) => `<link rel="stylesheet" href="${href(f)}">`),
    ...manifest.preload.map((f) => `<link rel="modulepreload" href="${href(f)}">`),
    `<script type="module" src="${href(manifest.entry)}"></script>`,
    "</head>",
    "<body>",
    '<div id="app"></div>',
    '<noscript><p>The Aragora console needs JavaScript. The API is documented at <a href="/swagger">/swagger</a>.</p></noscript>',
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
