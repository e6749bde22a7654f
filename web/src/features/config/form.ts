/**
 * The form's model of a config document: the scalar fields of each controller's
 * `params` and of the `tariff` block are inputs; anything nested is edited as JSON.
 * Pure functions, so the rules are tested without a browser.
 */

export type Scalar = string | number | boolean | null;

export interface FieldDraft {
  /** Dotted path inside the document, e.g. `controllers[0].params.target_grid_w`. */
  path: string;
  key: string;
  kind: "number" | "boolean" | "text" | "json";
  text: string;
}

export interface SectionDraft {
  title: string;
  /** Where the section's object lives in the document. */
  path: (string | number)[];
  fields: FieldDraft[];
}

function kindOf(value: unknown): FieldDraft["kind"] {
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "string") return "text";
  return "json";
}

function fieldsOf(obj: Record<string, unknown>, prefix: string): FieldDraft[] {
  return Object.entries(obj).map(([key, value]) => {
    const kind = kindOf(value);
    return {
      path: `${prefix}.${key}`,
      key,
      kind,
      text: kind === "json" ? JSON.stringify(value) : String(value),
    };
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One section per controller (its params) and one for the tariff, when there is one. */
export function sectionsOf(document: Record<string, unknown>): SectionDraft[] {
  const sections: SectionDraft[] = [];
  const controllers = Array.isArray(document.controllers) ? document.controllers : [];
  controllers.forEach((c: unknown, i: number) => {
    if (!isRecord(c)) return;
    const params = isRecord(c.params) ? c.params : {};
    sections.push({
      title: `Controller ${String(c.id ?? i)} (${String(c.type ?? "?")})`,
      path: ["controllers", i, "params"],
      fields: fieldsOf(params, `controllers[${i}].params`),
    });
  });
  if (isRecord(document.tariff)) {
    sections.push({ title: "Tariff", path: ["tariff"], fields: fieldsOf(document.tariff, "tariff") });
  }
  return sections;
}

export class FieldProblem extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "FieldProblem";
  }
}

function valueOf(field: FieldDraft): unknown {
  switch (field.kind) {
    case "number": {
      const n = Number(field.text.trim());
      if (field.text.trim() === "" || !Number.isFinite(n)) throw new FieldProblem(field.path, "not a number");
      return n;
    }
    case "boolean":
      if (field.text !== "true" && field.text !== "false") throw new FieldProblem(field.path, "true or false");
      return field.text === "true";
    case "text":
      return field.text;
    case "json":
      try {
        return JSON.parse(field.text) as unknown;
      } catch {
        throw new FieldProblem(field.path, "not valid JSON");
      }
  }
}

/** A copy of `document` with the sections' fields written back (throws FieldProblem). */
export function applySections(document: Record<string, unknown>, sections: SectionDraft[]): Record<string, unknown> {
  const out = structuredClone(document);
  for (const section of sections) {
    let target: unknown = out;
    for (const step of section.path) {
      target = (target as Record<string | number, unknown>)[step];
    }
    if (!isRecord(target)) {
      // A controller without params: the object is created.
      const parentPath = section.path.slice(0, -1);
      let parent: unknown = out;
      for (const step of parentPath) parent = (parent as Record<string | number, unknown>)[step];
      const last = section.path.at(-1);
      if (last === undefined) throw new FieldProblem(section.title, "no place in the document");
      target = {};
      (parent as Record<string | number, unknown>)[last] = target;
    }
    for (const field of section.fields) {
      (target as Record<string, unknown>)[field.key] = valueOf(field);
    }
  }
  return out;
}

/** Words for a version's fate, for the status line. */
export function statusText(status: string, reason: string | null, detail: string | null): string {
  switch (status) {
    case "stored":
      return "stored; the edge is offline: it gets it when it reconnects";
    case "pushed":
      return "sent to the edge, waiting for its answer";
    case "applied":
      return "applied by the edge";
    case "rejected":
      return `rejected by the edge (${reason ?? "no reason"})${detail ? `: ${detail}` : ""}`;
    default:
      return status;
  }
}
