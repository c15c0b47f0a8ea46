// Checks the SDK's wire types against `schema/protocol.schema.json`, the one description of the wire.
//
// `schemaMismatches(schema, sources)` lists every difference: a schema type with no declaration in
// `src/types.ts`, a field one side has and the other lacks, a union whose values differ, a method the
// client never calls (or calls but the schema lacks), a JSON-RPC code `errors.ts` names differently.
// The tests call it on the real schema (no differences) and on modified copies (differences), so a
// field or method added to the schema fails here until the SDK has it.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** The parts of the schema the check reads. */
export interface Schema {
  methods: Record<string, unknown>;
  rpcErrors: Record<string, number>;
  $defs: Record<string, Definition>;
}

/** One schema type. */
export interface Definition {
  enum?: string[];
  properties?: Record<string, unknown>;
  oneOf?: { properties: Record<string, { const?: string }> }[];
}

/** The SDK's source files the check reads. */
export interface Sources {
  types: string;
  client: string;
  errors: string;
}

/** Schema types whose SDK name differs. */
const renamed: Record<string, string> = { Event: "SpaceEvent" };

/** Schema types the SDK does not declare: the client builds params inline and handles these itself. */
const notDeclared = new Set([
  "ApprovalExtendParams", "ApprovalListParams", "ApprovalResolveParams", "CancelParams", "ChangesParams",
  "DisconnectedNotice", "Empty", "EventNotification", "FileDeleteParams", "FileListParams", "FileReadParams",
  "FileWriteParams", "HelloParams", "RequestId", "RestoreParams", "RPCError", "SpaceCreateParams",
  "SpaceNameParams", "SubmitParams", "SubscribeParams", "UndoParams", "UnsubscribeParams",
]);

/** The repository's root: the tests run from it (as `script/test-sdks` does). */
const root = process.cwd();

/** The schema as checked in. */
export function loadSchema(): Schema {
  return JSON.parse(readFileSync(resolve(root, "schema/protocol.schema.json"), "utf8")) as Schema;
}

/** The SDK's sources as checked in. */
export function loadSources(): Sources {
  const read = (name: string) => readFileSync(resolve(root, "sdk/typescript/src", name), "utf8");
  return { types: read("types.ts"), client: read("client.ts"), errors: read("errors.ts") };
}

/** The text of a declaration from `start` up to the `;` or `}` that ends it at depth 0. */
function declaration(source: string, start: number, end: string): string {
  let depth = 0;
  for (let index = start; index < source.length; index++) {
    const char = source[index];
    if (char === "{") depth++;
    if (char === "}") depth--;
    if (depth === 0 && char === end && (end !== "}" || source[index] === "}")) return source.slice(start, index + 1);
  }
  return source.slice(start);
}

/** The field names of the object type body `text` (its outer braces included), at its top level. */
function fieldsOf(text: string): Set<string> {
  const fields = new Set<string>();
  let depth = 0;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed.startsWith("*") && !trimmed.startsWith("/")) {
      // Inline members (`{ kind: "x"; path: string }`) and one field per line alike.
      if (depth === 1 || (depth === 0 && trimmed.startsWith("|"))) {
        const body = depth === 0 ? trimmed.slice(trimmed.indexOf("{") + 1) : trimmed;
        for (const match of body.matchAll(/(?:^|[;{]\s*)(\w+)\??\s*:/g)) fields.add(match[1]);
      }
    }
    for (const char of line) {
      if (char === "{") depth++;
      if (char === "}") depth--;
    }
  }
  return fields;
}

function interfaceFields(source: string, name: string): Set<string> | undefined {
  const start = source.search(new RegExp(`export interface ${name}\\b[^{]*\\{`));
  if (start < 0) return undefined;
  const body = declaration(source, source.indexOf("{", start), "}");
  return fieldsOf(body);
}

function typeText(source: string, name: string): string | undefined {
  const start = source.search(new RegExp(`export type ${name}\\s*=`));
  return start < 0 ? undefined : declaration(source, start, ";");
}

function differ(name: string, sdk: Set<string>, schema: Set<string>): string[] {
  const only = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();
  const sdkOnly = only(sdk, schema);
  const schemaOnly = only(schema, sdk);
  return sdkOnly.length || schemaOnly.length
    ? [`${name}: only in the schema ${JSON.stringify(schemaOnly)}, only in the SDK ${JSON.stringify(sdkOnly)}`]
    : [];
}

/** Every difference between `schema` and this SDK's types, client and errors. */
export function schemaMismatches(schema: Schema, sources: Sources): string[] {
  const found: string[] = [];
  for (const [name, definition] of Object.entries(schema.$defs)) {
    if (notDeclared.has(name)) continue;
    const sdkName = renamed[name] ?? name;
    if (definition.enum) {
      const text = typeText(sources.types, sdkName);
      if (text === undefined) found.push(`${name}: no type in types.ts`);
      else found.push(...differ(name, new Set([...text.matchAll(/"([^"]+)"/g)].map((m) => m[1])), new Set(definition.enum)));
    } else if (definition.oneOf && name === "Op") {
      const text = typeText(sources.types, sdkName) ?? "";
      const members = [...text.matchAll(/\{[^}]*\}/g)].map((m) => m[0]);
      for (const variant of definition.oneOf) {
        const kind = variant.properties.kind?.const ?? "";
        const member = members.find((m) => m.includes(`kind: "${kind}"`));
        if (member === undefined) found.push(`Op: no member for kind ${kind}`);
        else found.push(...differ(`Op ${kind}`, fieldsOf(`{\n${member.slice(1, -1).split(";").join(";\n")}\n}`), new Set(Object.keys(variant.properties))));
      }
    } else if (definition.properties) {
      const fields = interfaceFields(sources.types, sdkName);
      if (fields === undefined) found.push(`${name}: no interface in types.ts`);
      else found.push(...differ(name, fields, new Set(Object.keys(definition.properties))));
    }
  }
  const called = new Set(
    [...sources.client.matchAll(/\b(?:call|request|notify|personEdit)(?:<[^>]*>)?\(\s*"([^"]+)"/g)].map((m) => m[1]),
  );
  found.push(...differ("methods (client calls)", called, new Set(Object.keys(schema.methods))));
  const named = new Map([...sources.errors.matchAll(/\[(-\d+)\]: "(\w+)"/g)].map((m) => [m[2], Number(m[1])]));
  named.set("failed", schema.rpcErrors.failed ?? 0); // An OperationError, not a RequestError.
  for (const [name, code] of Object.entries(schema.rpcErrors)) {
    if (named.get(name) !== code) found.push(`rpcErrors: ${name} is ${code} in the schema, ${named.get(name)} in errors.ts`);
  }
  for (const [name, code] of named) {
    if (schema.rpcErrors[name] !== code) found.push(`rpcErrors: errors.ts names ${code} ${name}; the schema does not`);
  }
  return found;
}
