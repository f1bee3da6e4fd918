/**
 * OpenAPI 3.1 at /swagger/json and Swagger UI at /swagger, with the UI's assets served
 * from the local swagger-ui-dist package so the page works on an air-gapped host.
 *
 * The document declares the three ways to prove who you are (`bearer`: an access token, or any
 * other bearer credential; `apiKey`: an API key in the X-API-Key header, which is accepted as a
 * bearer token too; `cookie`: the browser session's `aragora_access`); every protected operation requires any one of them (permission.ts), and
 * Swagger UI's Authorize button takes a token and keeps it across reloads.
 *
 * @example
 * app.use(swagger(version));
 */

import { dirname, join } from "node:path";
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { HttpError } from "./errors.ts";
import { accessControl } from "./permission.ts";

const ASSETS = new Set(["swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"]);

function assetDir(): string {
  return dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
}

export function swagger(version: string) {
  const dir = assetDir();
  return new Elysia({ name: "aragora-swagger" })
    .use(accessControl)
    .use(
      openapi({
        path: "/swagger",
        specPath: "/swagger/json",
        provider: "swagger-ui",
        swagger: {
          theme: "/swagger/assets/swagger-ui.css",
          cdn: "/swagger/assets/swagger-ui-bundle.js",
          autoDarkMode: false,
          // Authorize once: the token stays in the browser's storage across reloads of the page.
          persistAuthorization: true,
        },
        exclude: { paths: ["/swagger/assets/:file", "/ws"] },
        documentation: {
          openapi: "3.1.0",
          info: {
            title: "Aragora API",
            version,
            description:
              "Multi-agent debate server: health, observability, debates, operations. Every operation names the permission it needs in x-aragora-permission (public: no credentials).",
          },
          components: {
            securitySchemes: {
              bearer: {
                type: "http",
                scheme: "bearer",
                bearerFormat: "JWT",
                description: "An access token from POST /api/auth/sign-in (or the operator's ARAGORA_API_TOKEN)",
              },
              apiKey: {
                type: "apiKey",
                in: "header",
                name: "X-API-Key",
                description:
                  "An API key (ara_live_...) from POST /api/auth/api-key; it is accepted as a bearer token too",
              },
              cookie: {
                type: "apiKey",
                in: "cookie",
                name: "aragora_access",
                description: "The browser session's access cookie (state-changing requests also need X-CSRF-Token)",
              },
            },
          },
          tags: [
            { name: "health", description: "liveness and readiness" },
            { name: "observability", description: "metrics and WebSocket statistics" },
            { name: "admin", description: "operator controls (the operator's permissions: admin.*, system.read)" },
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
      { permission: "public", detail: { hide: true } },
    );
}
