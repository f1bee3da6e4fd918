/**
 * The QR code of the account security page: its SVG path draws exactly the modules uqr encodes
 * (read back from the path, module by module). The page itself is tested in a browser
 * (account-security.test.ts).
 */
import { describe, expect, test } from "bun:test";
import { encode } from "uqr";
import { modulePath } from "../../web/client/pages/account/qr-path.ts";

/** The matrix a path of `M{x} {y}h{n}v1h-{n}z` runs paints, `size` modules a side. */
function painted(path: string, size: number): boolean[][] {
  const rows = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
  for (const [, x, y, n, back] of path.matchAll(/M(\d+) (\d+)h(\d+)v1h-(\d+)z/g)) {
    expect(back).toBe(n);
    for (let i = 0; i < Number(n); i++) {
      const row = rows[Number(y)] as boolean[];
      expect(row[Number(x) + i]).toBe(false); // no module painted twice
      row[Number(x) + i] = true;
    }
  }
  return rows;
}

describe("modulePath", () => {
  test("paints exactly the dark modules of an otpauth URI's QR code, and nothing else", () => {
    const qr = encode("otpauth://totp/Aragora:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Aragora", {
      ecc: "M",
      border: 4,
    });
    const path = modulePath(qr.data);
    expect(path.replace(/M\d+ \d+h\d+v1h-\d+z/g, "")).toBe("");
    expect(painted(path, qr.size)).toEqual(qr.data);
  });

  test("a run ends at the row's end and at each light module", () => {
    expect(
      modulePath([
        [true, true, false, true],
        [false, false, false, false],
        [false, true, true, true],
      ]),
    ).toBe("M0 0h2v1h-2zM3 0h1v1h-1zM1 2h3v1h-3z");
  });
});
