/**
 * Light and dark themes: the system's choice (prefers-color-scheme) unless the person picked one
 * with the toggle, which is remembered in localStorage. The choice is `data-theme` on <html>; the
 * style sheet does the rest.
 *
 * @example
 * applyTheme();            // at start
 * theme.value = "dark";    // the toggle
 */
import { effect, signal } from "@preact/signals";

export type Theme = "light" | "dark";
const KEY = "aragora.theme";

function stored(): Theme | undefined {
  try {
    const value = localStorage.getItem(KEY);
    return value === "light" || value === "dark" ? value : undefined;
  } catch {
    return undefined;
  }
}

const systemDark = () => matchMedia("(prefers-color-scheme: dark)").matches;

/** The theme shown. */
export const theme = signal<Theme>(stored() ?? (systemDark() ? "dark" : "light"));

/** Keeps <html data-theme> and the stored choice in step with {@link theme}. Call once. */
export function applyTheme(): void {
  let first = true;
  effect(() => {
    document.documentElement.dataset.theme = theme.value;
    // The first run only shows what was found; a choice is stored once the person makes one.
    if (!first) {
      try {
        localStorage.setItem(KEY, theme.value);
      } catch {
        // Storage refused (private mode): the choice lasts as long as the page.
      }
    }
    first = false;
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", (e) => {
    if (stored() === undefined) theme.value = e.matches ? "dark" : "light";
  });
}

/** Switches between light and dark. */
export function toggleTheme(): void {
  theme.value = theme.value === "dark" ? "light" : "dark";
}
