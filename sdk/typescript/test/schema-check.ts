// Checks the SDK's wire types against `schema/protocol.schema.json`, the one description of the wire.
//
// `schemaMismatches(schema, sources)` lists every difference: a schema type with no declaration in
// `src/types.ts`, a field one side has and the other lacks, a union whose values differ, a method the
// client never calls (or calls but the schema lacks), a JSON-RPC code `errors.ts` names differently.
// Each method's declared params type (`MethodParams`) and each event kind's interface (the members of
// `SpaceEvent`) are compared field by field: the same fields, each optional exactly when the schema
// does not require it, each of the schema's type.
// The tests call it on the real schema (no differences) and on modified copies (differences), so a
// field or method added to the schema fails here until the SDK has it.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** The parts of the schema the check reads. */
export interface Schema {
  methods: Record<string, { access?: string; params?: Property }>;
  rpcErrors: Record<string, number>;
  $defs: Record<string, Definition>;
}

/** One schema type. */
export interface Definition {
  enum?: string[];
  required?: string[];
  properties?: Record<string, Property>;
  oneOf?: { properties: Record<string, Property>; required?: string[]; propertyNames?: { enum: string[] } }[];
}

/** One property's schema (the keywords the type comparison reads). */
export interface Property {
  $ref?: string;
  type?: string | string[];
  enum?: string[];
  const?: string;
  items?: Property;
  required?: string[];
  properties?: Record<string, Property>;
  additionalProperties?: boolean | Property;
}

/** The SDK's source files the check reads. */
export interface Sources {
  types: string;
  client: string;
  errors: string;
}

/** Schema types whose SDK name differs. */
const renamed: Record<string, string> = { Event: "SpaceEvent" };

/** Schema types the SDK does not declare: the connection reads these messages itself. */
const notDeclared = new Set(["DisconnectedNotice", "EventNotification", "RPCError"]);

/** The repository's root: the tests run from it (as `script/test-sdks` does). */
const root = process.cwd();

/** The schema as checked in (or the copy at `path`). */
export function loadSchema(path = resolve(root, "schema/protocol.schema.json")): Schema {
  return JSON.parse(readFileSync(path, "utf8")) as Schema;
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

/** One declared field: whether it is optional, and its type's text. */
interface Member {
  optional: boolean;
  type: string;
}

/** The members of interface `name`, with those of the interfaces it extends. */
function interfaceMembers(source: string, name: string): Map<string, Member> | undefined {
  const header = new RegExp(`export interface ${name}\\b(?:\\s+extends\\s+([\\w\\s,]+))?\\s*\\{`).exec(source);
  if (header === null) return undefined;
  const members = new Map<string, Member>();
  for (const base of (header[1] ?? "").split(",").map((part) => part.trim()).filter(Boolean)) {
    for (const [field, member] of interfaceMembers(source, base) ?? []) members.set(field, member);
  }
  const body = declaration(source, source.indexOf("{", header.index), "}");
  let depth = 0;
  for (const line of body.split("\n")) {
    const trimmed = line.trim();
    const match = /^("[^"]+"|\w+)(\??):\s*(.+?);?$/.exec(trimmed);
    if (depth === 1 && match !== null) {
      members.set(match[1].replace(/"/g, ""), { optional: match[2] === "?", type: match[3] });
    }
    for (const char of line) {
      if (char === "{") depth++;
      if (char === "}") depth--;
    }
  }
  return members;
}

/** The TypeScript type a schema property stands for, as its sorted union members. */
function expectedType(property: Property): string[] {
  if (property.$ref !== undefined) {
    const name = property.$ref.replace("#/$defs/", "");
    return [renamed[name] ?? name];
  }
  if (property.const !== undefined) return [JSON.stringify(property.const)];
  if (property.enum !== undefined) return property.enum.map((value) => JSON.stringify(value)).sort();
  if (typeof property.additionalProperties === "object") {
    return [`Record<string, ${expectedType(property.additionalProperties).join(" | ")}>`];
  }
  const types = Array.isArray(property.type) ? property.type : [property.type ?? "unknown"];
  const scalar: Record<string, string> = { string: "string", integer: "number", number: "number", boolean: "boolean", null: "null" };
  return types
    .map((type) => (type === "array" ? `${expectedType(property.items ?? {}).join(" | ")}[]` : scalar[type] ?? `(${type})`))
    .sort();
}

/** A declared type's union members, sorted. */
function declaredType(text: string): string[] {
  return text.split("|").map((part) => part.trim()).filter(Boolean).sort();
}

/** The differences between declared `members` and a schema object's fields, requirements and types. */
function compareMembers(
  types: string,
  what: string,
  members: Map<string, Member>,
  properties: Record<string, Property>,
  required: Set<string>,
): string[] {
  const found = differ(what, new Set(members.keys()), new Set(Object.keys(properties)));
  for (const [field, property] of Object.entries(properties)) {
    const member = members.get(field);
    if (member === undefined) continue;
    if (member.optional === required.has(field)) {
      found.push(`${what}: ${field} is ${required.has(field) ? "required" : "optional"} in the schema, not in the SDK`);
    }
    if (property.properties !== undefined) {
      // An inline object: the interface the SDK names for it, field by field.
      const inline = interfaceMembers(types, member.type);
      if (inline === undefined) found.push(`${what}: ${field} is an object in the schema, ${member.type} in the SDK`);
      else found.push(...compareMembers(types, `${what}.${field}`, inline, property.properties, new Set(property.required ?? [])));
      continue;
    }
    const expected = expectedType(property);
    const declared = declaredType(member.type);
    if (expected.join(" | ") !== declared.join(" | ")) {
      found.push(`${what}: ${field} is ${expected.join(" | ")} in the schema, ${declared.join(" | ")} in the SDK`);
    }
  }
  return found;
}

/** Each method's params type (`MethodParams`) against the schema's, field by field. */
function paramsMismatches(schema: Schema, types: string): string[] {
  const declared = interfaceMembers(types, "MethodParams");
  if (declared === undefined) return ["MethodParams: no interface in types.ts"];
  const found = differ("MethodParams (methods)", new Set(declared.keys()), new Set(Object.keys(schema.methods)));
  for (const [method, entry] of Object.entries(schema.methods)) {
    const member = declared.get(method);
    const name = (entry.params?.$ref ?? "").replace("#/$defs/", "");
    const definition = schema.$defs[name];
    if (member === undefined || definition === undefined) continue;
    if (member.type !== name) {
      found.push(`${method} params: ${name} in the schema, ${member.type} in MethodParams`);
      continue;
    }
    const members = interfaceMembers(types, name);
    if (members === undefined) found.push(`${name}: no interface in types.ts`);
    else found.push(...compareMembers(types, name, members, definition.properties ?? {}, new Set(definition.required ?? [])));
  }
  return found;
}

/** Each event kind's interface (a member of `SpaceEvent`) against the schema's `Event` variant of that `type`. */
function eventMismatches(schema: Schema, types: string): string[] {
  const event = schema.$defs.Event;
  const text = typeText(types, "SpaceEvent");
  if (event === undefined || text === undefined) return ["Event: no SpaceEvent union in types.ts"];
  const found: string[] = [];
  const allowed = new Set((event.oneOf ?? []).flatMap((variant) => variant.propertyNames?.enum ?? []));
  for (const field of Object.keys(event.properties ?? {})) {
    if (!allowed.has(field)) found.push(`Event: ${field} belongs to no kind`);
  }
  const kinds = new Map<string, string>();
  for (const name of [...text.matchAll(/\|\s*(\w+)/g)].map((m) => m[1])) {
    const type = interfaceMembers(types, name)?.get("type")?.type;
    if (type === undefined) found.push(`Event: ${name} has no type`);
    else kinds.set(JSON.parse(type) as string, name);
  }
  const variants = event.oneOf ?? [];
  found.push(...differ("Event (kinds)", new Set(kinds.keys()), new Set(variants.map((v) => v.properties.type?.const ?? ""))));
  for (const variant of variants) {
    const kind = variant.properties.type?.const ?? "";
    const name = kinds.get(kind);
    const members = name === undefined ? undefined : interfaceMembers(types, name);
    if (members === undefined) continue;
    const properties: Record<string, Property> = {};
    for (const field of variant.propertyNames?.enum ?? []) {
      properties[field] = field === "type" ? { const: kind } : event.properties?.[field] ?? {};
    }
    const required = new Set([...(event.required ?? []), ...(variant.required ?? [])]);
    found.push(...compareMembers(types, `Event ${kind}`, members, properties, required));
  }
  return found;
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
    if (notDeclared.has(name) || name === "Event") continue;
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
      const members = interfaceMembers(sources.types, sdkName);
      if (members === undefined) found.push(`${name}: no interface in types.ts`);
      else found.push(...compareMembers(sources.types, name, members, definition.properties, new Set(definition.required ?? [])));
    }
  }
  found.push(...paramsMismatches(schema, sources.types), ...eventMismatches(schema, sources.types));
  const called = new Set(
    [...sources.client.matchAll(/\b(?:send|request|notify|personEdit)(?:<[^>]*>)?\(\s*"([^"]+)"/g)].map((m) => m[1]),
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

/** A JSON value as the validator sees it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Where `value` breaks `node` of `schema` (empty when it fits), for the keywords the wire schema
 * uses: `$ref`, `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`,
 * `items`, `oneOf`, `propertyNames`. Any other keyword is reported, so the schema can't outgrow it.
 */
export function validate(schema: Schema, value: Json, node: Record<string, unknown>, path = "$"): string[] {
  const found: string[] = [];
  const object = value !== null && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  for (const [keyword, argument] of Object.entries(node)) {
    switch (keyword) {
      case "$ref": {
        const target = schema.$defs[String(argument).replace("#/$defs/", "")];
        if (target === undefined) found.push(`${path}: no definition ${argument}`);
        else found.push(...validate(schema, value, target as Record<string, unknown>, path));
        break;
      }
      case "type": {
        const types = Array.isArray(argument) ? (argument as string[]) : [String(argument)];
        if (!types.some((type) => jsonType(value, type))) found.push(`${path}: ${JSON.stringify(value)} is not ${types.join(" or ")}`);
        break;
      }
      case "enum":
        if (!(argument as Json[]).includes(value)) found.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(argument)}`);
        break;
      case "const":
        if (value !== argument) found.push(`${path}: ${JSON.stringify(value)} is not ${JSON.stringify(argument)}`);
        break;
      case "properties":
        for (const [key, property] of Object.entries(argument as Record<string, Record<string, unknown>>)) {
          const member = object?.[key];
          if (member !== undefined) found.push(...validate(schema, member, property, `${path}.${key}`));
        }
        break;
      case "required":
        for (const key of argument as string[]) if (object !== undefined && !(key in object)) found.push(`${path}: missing ${key}`);
        break;
      case "additionalProperties": {
        const known = new Set(Object.keys((node.properties as object | undefined) ?? {}));
        for (const [key, member] of Object.entries(object ?? {})) {
          if (known.has(key) || argument === true) continue;
          if (argument === false) found.push(`${path}: unknown field ${key}`);
          else found.push(...validate(schema, member, argument as Record<string, unknown>, `${path}.${key}`));
        }
        break;
      }
      case "items":
        if (Array.isArray(value)) {
          value.forEach((item, index) => found.push(...validate(schema, item, argument as Record<string, unknown>, `${path}[${index}]`)));
        }
        break;
      case "oneOf": {
        const passing = (argument as Record<string, unknown>[]).filter((variant) => validate(schema, value, variant, path).length === 0);
        if (passing.length !== 1) found.push(`${path}: matches ${passing.length} of oneOf, not 1`);
        break;
      }
      case "propertyNames": {
        const names = ((argument as { enum?: string[] }).enum ?? []) as string[];
        for (const key of Object.keys(object ?? {})) if (!names.includes(key)) found.push(`${path}: field ${key} is not allowed here`);
        break;
      }
      case "description":
      case "summary":
      case "title":
        break;
      default:
        found.push(`${path}: unsupported keyword ${keyword}`);
    }
  }
  return found;
}

function jsonType(value: Json, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "boolean":
    case "string":
      return typeof value === type;
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "array":
      return Array.isArray(value);
    case "object":
      return value !== null && typeof value === "object" && !Array.isArray(value);
    default:
      return false;
  }
}
