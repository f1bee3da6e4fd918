/**
 * The URL's share of the edge checks: a path or query that is not percent-encoded UTF-8 (`%zz`, a
 * surrogate's bytes `%ED%A0%80`) or that decodes to a NUL character (`%00`) is refused before
 * routing. The router would otherwise pass such values on as they are (or as null), and PostgreSQL
 * refuses a NUL in any text it is given.
 *
 * @example
 * urlProblem("http://h/api/debates?agent=%00")  // "query parameter agent holds a NUL character (%00)"
 * urlProblem("http://h/api/debates?agent=bob") // undefined
 */

function decoded(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** A query parameter's name as a message may quote it. */
const label = (name: string | undefined) =>
  name?.isWellFormed() && !name.includes("\u0000") ? JSON.stringify(name.slice(0, 100)) : "(a name)";

/**
 * Why the URL cannot be taken as it is, or undefined. Costs one `indexOf` for a URL without `%`.
 *
 * @example urlProblem("http://h/api/x/%zz") // "the path is not valid percent-encoded UTF-8"
 */
export function urlProblem(url: string): string | undefined {
  const percent = url.indexOf("%");
  if (percent === -1) return undefined;
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  const queryStart = url.indexOf("?", pathStart);
  const path = queryStart === -1 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
  const pathText = decoded(path);
  if (pathText === undefined) return "the path is not valid percent-encoded UTF-8";
  if (pathText.includes("\u0000")) return "the path holds a NUL character (%00)";
  if (queryStart === -1 || url.indexOf("%", queryStart) === -1) return undefined;
  for (const pair of url.slice(queryStart + 1).split("&")) {
    const eq = pair.indexOf("=");
    const name = decoded((eq === -1 ? pair : pair.slice(0, eq)).replaceAll("+", " "));
    const value = decoded((eq === -1 ? "" : pair.slice(eq + 1)).replaceAll("+", " "));
    if (name === undefined || value === undefined) {
      return `query parameter ${label(name)} is not valid percent-encoded UTF-8`;
    }
    if (name.includes("\u0000") || value.includes("\u0000")) {
      return `query parameter ${label(name)} holds a NUL character (%00)`;
    }
  }
  return undefined;
}
