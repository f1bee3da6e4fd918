/**
 * A QR code's module matrix as one SVG path (qr-code.tsx draws it): each horizontal run of dark
 * modules one rectangle, so a code of a few thousand modules is a single element.
 */

/**
 * The SVG path of a module matrix: each horizontal run of dark modules as one rectangle.
 *
 * @example modulePath([[true, true, false]]); // "M0 0h2v1h-2z"
 */
export function modulePath(rows: readonly (readonly boolean[])[]): string {
  const parts: string[] = [];
  rows.forEach((row, y) => {
    let x = 0;
    while (x < row.length) {
      if (!row[x]) {
        x++;
        continue;
      }
      let end = x;
      while (end < row.length && row[end]) end++;
      parts.push(`M${x} ${y}h${end - x}v1h-${end - x}z`);
      x = end;
    }
  });
  return parts.join("");
}
