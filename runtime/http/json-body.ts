/**
 * The body gate: every request body the API reads passes here before JSON.parse and before any
 * schema sees it. It refuses, in this order and each with its own status:
 *
 * - a Content-Type other than `application/json` (415), so a cross-site form (text/plain,
 *   urlencoded, multipart) cannot reach a route;
 * - more than ARAGORA_MAX_BODY_BYTES (413), counted while reading, Content-Length or not;
 * - bytes that are not UTF-8 (400);
 * - arrays and objects nested deeper than {@link MAX_JSON_DEPTH} (400), found by a scan of the text
 *   that does not recurse, so neither the parser nor the validators ever walk a hostile nesting;
 * - text that is not JSON (400);
 * - values JSON carries but nothing downstream can keep as sent (422 naming the field): strings
 *   with lone surrogates (they sign, store and read back differently), NUL characters (PostgreSQL
 *   refuses them) and numbers JSON.parse turns into ±Infinity (`1e309`, stored as null).
 *
 * @example
 * new Elysia().onParse(({ request }) => readJsonBody(request, 1_048_576));
 */
import { isUtf8 } from "node:buffer";
import { type FieldProblem, jsonNestingDepth, jsonValueProblems, MAX_JSON_DEPTH } from "../json-limits.ts";
import { PayloadTooLargeError } from "./errors.ts";

/** A body the gate refuses; the error mapper answers with its status, code, message and details. */
export class BodyRejected extends Error {
  constructor(
    readonly status: 400 | 413 | 415 | 422,
    readonly code: string,
    message: string,
    readonly details?: FieldProblem[],
  ) {
    super(message);
    this.name = "BodyRejected";
  }
}

/**
 * The media type of a Content-Type header, lower-cased without parameters; undefined when absent.
 *
 * @example mediaType("Application/JSON; charset=utf-8") // "application/json"
 */
export function mediaType(header: string | null): string | undefined {
  if (header === null) return undefined;
  const semicolon = header.indexOf(";");
  const type = (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  return type === "" ? undefined : type;
}

/**
 * Read a body as bytes. With Content-Length the shell has checked the size already and Bun reads
 * it in one go; a chunked body is counted as it arrives, failing with {@link PayloadTooLargeError}
 * past `limit` bytes.
 */
async function readBytes(request: Request, limit: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  if (request.headers.has("content-length")) return new Uint8Array(await request.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.byteLength;
    if (total > limit) throw new PayloadTooLargeError(limit);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}

const utf8 = new TextDecoder("utf-8");

/**
 * Read and check one request body (see the module comment for what is refused, and how).
 * Resolves to the parsed JSON, or to null when the request has no body.
 *
 * @example
 * const body = await readJsonBody(request, config.maxBodyBytes); // or throws BodyRejected / PayloadTooLargeError
 */
export async function readJsonBody(request: Request, maxBytes: number, maxDepth = MAX_JSON_DEPTH): Promise<unknown> {
  const type = mediaType(request.headers.get("content-type"));
  if (type !== undefined && type !== "application/json") {
    throw new BodyRejected(
      415,
      "unsupported_media_type",
      `request bodies must be application/json (Content-Type was ${JSON.stringify(type.slice(0, 100))})`,
    );
  }
  const bytes = await readBytes(request, maxBytes);
  if (bytes.byteLength === 0) return null;
  if (type === undefined) {
    throw new BodyRejected(
      415,
      "unsupported_media_type",
      "request bodies must be sent as Content-Type: application/json",
    );
  }
  if (!isUtf8(bytes)) throw new BodyRejected(400, "malformed_body", "the request body is not valid UTF-8");
  const text = utf8.decode(bytes);
  if (jsonNestingDepth(text, maxDepth) > maxDepth) {
    throw new BodyRejected(
      400,
      "body_too_deep",
      `the request body nests arrays and objects deeper than ${maxDepth} levels`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BodyRejected(400, "malformed_body", "the request body could not be parsed (malformed JSON?)");
  }
  const problems = jsonValueProblems(value, "body", maxDepth);
  if (problems.length > 0) {
    throw new BodyRejected(422, "validation_failed", problems.map((p) => `${p.field}: ${p.rule}`).join("; "), problems);
  }
  return value;
}
