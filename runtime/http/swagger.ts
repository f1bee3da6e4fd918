/**
 * OpenAPI 3.1 at /swagger/json and Swagger UI at /swagger, with the UI's assets served
 * from the local swagger-ui-dist package so the page works on an air-gapped host.
 *
 * @example
 * app.use(swagger(version));
 */

import { dirname, join } from "node:path";
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { HttpError } from "./errors.ts";

const ASSETS = new Set(["swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"]);

function assetDir(): string {
  return dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
}

export function swagger(version: string) {
  const dir = assetDir();
  return new Elysia({ name: "aragora-swagger" })
    .use(
      openapi({
        path: "/swagger",
        specPath: "/swagger/json",
        provider: "swagger-ui",
        swagger: {
          theme: "/swagger/assets/swagger-ui.css",
          cdn: "/swagger/assets/swagger-ui-bundle.js",
          autoDarkMode: false,
        },
        exclude: { paths: ["/swagger/assets/:file", "/ws"] },
        documentation: {
          openapi: "3.1.0",
          info: {
            title: "Aragora API",
            version,
            description: "Multi-agent debate server: health, observability, debates, operations.",
          },
          tags: [
            { name: "health", description: "liveness and readiness" },
            { name: "observability", description: "metrics and WebSocket statistics" },
            { name: "admin", description: "operator controls (Authorization: Bearer ARAGORA_API_TOKEN)" },
          ],
        },
      }),
    )
    .get(
      "/swagger/assets/:file",
      ({ params }) => {
        if (!ASSETS.has(params.file)) throw new HttpError(404, "not_found", `no asset ${params.file}`);
        return Bun.file(join(dir, params.file));
      },
      { detail: { hide: true } },
    );
}
