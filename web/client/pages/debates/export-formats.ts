/**
 * The formats GET /api/debates/export and /api/debates/:id/export offer (schemas/debates.ts
 * ExportQuery), as links name them.
 *
 * @example EXPORT_FORMATS.map((f) => <a href={`/api/debates/export?format=${f.format}`}>{f.label}</a>)
 */
export const EXPORT_FORMATS = [
  { format: "json", label: "JSON" },
  { format: "jsonl", label: "JSON Lines" },
  { format: "csv", label: "CSV" },
  { format: "md", label: "Markdown" },
] as const;
