/**
 * A QR code as an SVG of Preact elements: uqr encodes the text in the browser (the secret never
 * leaves for a QR service), and each row's runs of dark modules become one path. Imported only by
 * the account security page, so uqr ships in that page's chunk, not in the first page's.
 *
 * Always dark on white with a quiet zone of 4 modules, whatever the theme: scanners expect it.
 *
 * @example <QrCode text={otpauthUri} label="QR code of the authenticator key for ada@example.com" />
 */
import { useMemo } from "preact/hooks";
import { encode } from "uqr";
import { modulePath } from "./qr-path.ts";

/** The quiet zone around the code, in modules (what ISO/IEC 18004 asks for). */
const QUIET_ZONE = 4;

export function QrCode({ text, label }: { text: string; label: string }) {
  // Error correction M: a phone's camera reads it off a screen at an angle, and the code stays small.
  const qr = useMemo(() => encode(text, { ecc: "M", border: QUIET_ZONE }), [text]);
  return (
    <svg
      class="qr-code"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${qr.size} ${qr.size}`}
      shape-rendering="crispEdges"
      xmlns="http://www.w3.org/2000/svg"
    >
      <rect width={qr.size} height={qr.size} fill="#ffffff" />
      <path d={modulePath(qr.data)} fill="#000000" />
    </svg>
  );
}
