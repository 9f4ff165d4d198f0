// Response validation against Lago's OpenAPI description, for the REST emulator's tests.
//
// The spec is Lago's own file (AGPL-3.0), read in place from `shared/reference/` beside the repo
// root and never copied into this repository. OpenAPI 3.1 schemas are JSON Schema 2020-12, so the
// whole document is registered with Ajv under the id `lago` and every response schema is compiled
// as `{ $ref: 'lago#/<json pointer>' }`: the spec's own `#/components/schemas/X` references then
// resolve inside it.
//
//   validateResponse(method, path, status, body)  → the check; throws an OpenApiError naming the
//                                                   operation, the status and each JSON pointer
//   responseErrors(method, path, status, body)    → the same check, returning the error list
//   deviations() / deviationsMarkdown()           → every way the emulator (or Lago) was seen to
//                                                   depart from the spec, each with its reason
//
// A status the spec does not list for an operation is checked against the error schema of that
// status (400 ApiErrorBadRequest, 401 ApiErrorUnauthorized, 403 ApiErrorForbidden, 404
// ApiErrorNotFound, 422 ApiErrorUnprocessableEntity; 405 the ApiErrorNotFound shape, which has a
// `code`; any other status the ApiErrorBadRequest shape) and is accepted only when it is a known
// deviation with a reason (KNOWN_STATUS_DEVIATIONS); anything else is an error. Every error body
// must also echo its HTTP status in `status`. Schema failures are errors too, except the few
// listed in KNOWN_SCHEMA_DEVIATIONS (defects of the spec, or keys lago-api itself renders
// otherwise), each excused only for the exact value it names. Operations of Lago's full API that
// the filtered file lacks (KNOWN_EXTRA_OPERATIONS) are recorded, not validated.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

export const SPEC_URL = new URL('../../../shared/reference/lago-openapi.yaml', import.meta.url);

/** The parsed spec (loaded once per process). */
export const spec = parse(readFileSync(SPEC_URL, 'utf8'));

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// The spec writes a regular expression where a format name belongs (ChargeProperties'
// amounts); register it as the format it meant rather than let Ajv warn and ignore it.
ajv.addFormat('^[0-9]+.?[0-9]*$', /^[0-9]+.?[0-9]*$/);
ajv.addSchema({ ...spec, $id: 'lago' });

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** One JSON-pointer token (RFC 6901). */
const token = (s) => String(s).replaceAll('~', '~0').replaceAll('/', '~1');

/** `{ template, regex, params, operations: { get: op, … } }` for every path of the spec. */
const routes = Object.entries(spec.paths).map(([template, item]) => {
  const params = [...template.matchAll(/\{[^}]+\}/g)].length;
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  const operations = {};
  for (const method of METHODS) if (item[method]) operations[method] = item[method];
  return { template, regex: new RegExp(`^${source}$`), params, operations };
});

/**
 * Statuses the spec does not list for an operation but that lago-api (and so the emulator)
 * answers, each with why. Key: `<operationId> <status>`, or `* <status>` for every operation.
 */
export const KNOWN_STATUS_DEVIATIONS = {
  'findCustomerCurrentUsage 405':
    'lago-api answers 405 `no_active_subscription` when the customer exists but `external_subscription_id` is not one of its active subscriptions (missing, terminated, pending); the spec lists 200/401/404 only',
  'findCustomerProjectedUsage 405':
    'same 405 `no_active_subscription` as current usage; the spec lists 200/401/403/404 only',
  'createCustomer 404':
    'lago-api answers 404 `tax_not_found` when `tax_codes` names a tax that does not exist (Customers::ApplyTaxesService); the spec lists 200/400/401/422 only',
  '* 400':
    'a body (or query string) that cannot be parsed is a 400 on every route, as Rails\' ParseError is in lago-api, including operations whose spec lists no 400',
  '* 413':
    'a request body over the emulator\'s size limit is refused with 413 before routing; Lago\'s spec has no 413 (its proxy answers it in production)',
};

/** Routes and methods outside the spec that the emulator answers, with why. */
export const KNOWN_ROUTE_DEVIATIONS = {
  'unknown route':
    'a path that is no Lago route answers an error body (lago-api: 404 `resource_not_found` from its catch-all route); no operation of the spec describes it',
  'method not in spec':
    'a spec path with a method it does not have answers an error body (404 or 405); no operation of the spec describes it',
};

/**
 * Operations of Lago's full API that the filtered spec left out but the emulator answers (their
 * success bodies have no schema here), with why.
 */
export const KNOWN_EXTRA_OPERATIONS = {
  'PUT /organizations':
    'Lago\'s updateOrganization, not in the filtered spec; the emulator reads the organisation\'s `premium_integrations` there (how a test turns projected usage off for the 403), which Lago sets by licence instead',
};

/**
 * Schema mismatches that are Lago's own behaviour or a defect of the spec itself (the emulator
 * renders what lago-api renders), whatever the operation. Each: a label, the failing keyword, a
 * test on the Ajv error and the value at its pointer (only that exact case is excused), and why.
 */
export const KNOWN_SCHEMA_DEVIATIONS = [
  {
    label: 'plan invoice_display_name / description null',
    keyword: 'type',
    test: (e, v) => v === null && /(^|\/)plans?(\/\d+)?\/(invoice_display_name|description)$/.test(e.pointer),
    reason: 'PlanObject types `invoice_display_name` and `description` as non-null strings; lago-api\'s plan serializer renders null when they were never set',
  },
  {
    label: 'subscription on_termination_credit_note null',
    keyword: 'enum',
    test: (e, v) => v === null && /(^|\/)subscriptions?(\/\d+)?\/on_termination_credit_note$/.test(e.pointer),
    reason: 'SubscriptionObject types `on_termination_credit_note` as string|null, but its enum (credit, refund, offset, skip) has no null; lago-api renders null for every subscription whose plan is not paid in advance',
  },
  {
    label: 'event property with an integer value',
    keyword: ['oneOf', 'type'],
    test: (e, v) => Number.isInteger(v) && /\/properties\/[^/]+$/.test(e.pointer) && /EventObject\/properties\/properties\/additionalProperties\/oneOf/.test(e.schemaPath),
    reason: 'EventObject.properties values are `oneOf: [string, integer, number]`; an integer is both an integer and a number, so every integer property value (which lago-api stores and renders as sent) fails `oneOf` — the spec meant `anyOf`',
  },
  {
    label: 'usage default filter bucket: values / invoice_display_name null',
    keyword: 'type',
    test: (e, v) => v === null && /\/filters\/\d+\/(values|invoice_display_name)$/.test(e.pointer) && /charges_usage/.test(e.pointer),
    reason: 'the usage filter objects type `values` as an object and `invoice_display_name` as a string; lago-api renders the default bucket (events matching no filter) with `values: null` and `invoice_display_name: null`',
  },
  {
    label: 'projected usage charge.invoice_display_name null',
    keyword: 'type',
    test: (e, v) => v === null && /charges_usage\/\d+\/charge\/invoice_display_name$/.test(e.pointer),
    reason: 'CustomerProjectedChargeUsageObject types `charge.invoice_display_name` as a non-null string; lago-api renders null when the charge has none (current usage\'s schema allows null)',
  },
  {
    label: 'projected usage: required `groups` absent',
    keyword: 'required',
    test: (e) => e.params?.missingProperty === 'groups',
    reason: 'the projected-usage schemas list `groups` as required but never define it; lago-api\'s projected serializers render `grouped_usage` (and `filters`), never `groups`',
  },
];

/** The value at a JSON pointer of a document (undefined when absent). */
function at(document, pointer) {
  return pointer.split('/').slice(1).reduce(
    (node, key) => (node == null ? undefined : node[key.replaceAll('~1', '/').replaceAll('~0', '~')]),
    document,
  );
}

const FALLBACK_ERROR_SCHEMA = {
  400: 'ApiErrorBadRequest',
  401: 'ApiErrorUnauthorized',
  403: 'ApiErrorForbidden',
  404: 'ApiErrorNotFound',
  405: 'ApiErrorNotFound',
  422: 'ApiErrorUnprocessableEntity',
};

const found = new Map();

/** Records a deviation (also usable by tests for behaviour no schema can see). */
export function recordDeviation({ operation, status, kind, reason, detail }) {
  const key = `${operation} ${status} ${kind}`;
  const entry = found.get(key) ?? { operation, status, kind, reason, seen: new Set(), count: 0 };
  entry.count += 1;
  if (detail) entry.seen.add(detail);
  found.set(key, entry);
}

/** The deviations seen so far, in the order first seen. */
export function deviations() {
  return [...found.values()];
}

/** The deviations as a markdown table (for the README). */
export function deviationsMarkdown() {
  const rows = deviations().map((d) => {
    const seen = [...d.seen];
    const note = seen.length ? ` (seen: ${seen.slice(0, 4).join(', ')}${seen.length > 4 ? `, … ${seen.length} in all` : ''})` : '';
    return `| \`${d.operation}\` | ${d.status} | ${d.kind} | ${d.reason}${note} |`;
  });
  return ['| operation | status | deviation | reason |', '|---|---:|---|---|', ...rows].join('\n');
}

/** An error of `validateResponse`: `errors` lists `{ pointer, message }`. */
export class OpenApiError extends Error {
  constructor(context, errors) {
    super(`${context}: ${errors.map((e) => `${e.pointer || '/'} ${e.message}`).join('; ')}`);
    this.name = 'OpenApiError';
    this.errors = errors;
  }
}

/** An actual request path (`/api/v1/customers/acme/current_usage?x=1`, a full URL) as a spec path. */
export function specPath(actualPath) {
  let path = actualPath;
  if (/^https?:\/\//.test(path)) path = new URL(path).pathname;
  path = path.split('?')[0].split('#')[0];
  if (path.startsWith('/api/v1/')) path = path.slice('/api/v1'.length);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path;
}

/**
 * The operation of a method on an actual (or template) path: `{ route, operation }`, where a static
 * template beats a parameterised one (`/events/batch` before `/events/{transaction_id}`);
 * `{ route, operation: null }` when the path exists without that method; null when no path matches.
 */
export function findOperation(method, actualPath) {
  const path = specPath(actualPath);
  const m = method.toLowerCase();
  const matches = routes.filter((r) => r.regex.test(path)).sort((a, b) => a.params - b.params);
  if (!matches.length) return null;
  const route = matches.find((r) => r.operations[m]) ?? matches[0];
  return { route, operation: route.operations[m] ?? null };
}

const compiled = new Map();
function validatorAt(pointer) {
  let v = compiled.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `lago#${pointer}` });
    compiled.set(pointer, v);
  }
  return v;
}

/** The JSON pointer (in the spec) of the JSON schema of one documented response, or null. */
function responseSchemaPointer(template, method, status) {
  const responses = spec.paths[template][method].responses ?? {};
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k]);
  if (!key) return null;
  let base = `/paths/${token(template)}/${method}/responses/${token(key)}`;
  let response = responses[key];
  if (response.$ref) {
    base = response.$ref.slice(1); // '#/components/responses/NotFound' → '/components/…'
    response = base.split('/').slice(1).reduce((o, k) => o[k.replaceAll('~1', '/').replaceAll('~0', '~')], spec);
  }
  if (!response.content?.['application/json']?.schema) return { base, schemaless: true };
  return { base: `${base}/content/${token('application/json')}/schema` };
}

function ajvErrors(validate) {
  return (validate.errors ?? []).map((e) => ({
    pointer: e.instancePath,
    keyword: e.keyword,
    params: e.params,
    schemaPath: e.schemaPath,
    message: `${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''} (schema ${e.schemaPath})`,
  }));
}

/**
 * Checks one response; returns `{ operation, template, status, errors, deviations }`, where
 * `errors` are `{ pointer, message }` (empty when the response conforms or only departs in known
 * ways, which are recorded in `deviations()`).
 */
export function responseErrors(method, path, status, rawBody) {
  let body = rawBody;
  if (typeof rawBody === 'string') {
    try {
      body = JSON.parse(rawBody);
    } catch {
      return { operation: `${method} ${path}`, status, errors: [{ pointer: '', message: `body is not JSON: ${JSON.stringify(rawBody.slice(0, 80))}` }] };
    }
  }
  const errors = [];
  const m = method.toLowerCase();
  const hit = findOperation(m, path);
  let opName;
  let pointer;

  if (!hit || !hit.operation) {
    // Not an operation of the spec: only an error answer is right (404/405 for the route itself;
    // 401 before routing; 400/413 for the body).
    opName = `${method.toUpperCase()} ${specPath(path)}`;
    const kind = !hit ? 'unknown route' : 'method not in spec';
    const extra = KNOWN_EXTRA_OPERATIONS[opName];
    if (extra && status < 400) {
      recordDeviation({ operation: opName, status, kind: 'operation outside the filtered spec', reason: extra });
      return { operation: opName, template: null, status, errors };
    }
    if (status === 404 || status === 405) {
      recordDeviation({ operation: '(none)', status, kind, reason: KNOWN_ROUTE_DEVIATIONS[kind], detail: opName });
    } else if (status === 401) {
      // Authentication comes first, whatever the route.
    } else {
      noteUndocumented('*', status, opName, errors);
    }
    pointer = `/components/schemas/${FALLBACK_ERROR_SCHEMA[status] ?? 'ApiErrorBadRequest'}`;
  } else {
    opName = hit.operation.operationId;
    const found = responseSchemaPointer(hit.route.template, m, status);
    if (found?.schemaless) return { operation: opName, template: hit.route.template, status, errors };
    if (found) {
      pointer = found.base;
    } else {
      noteUndocumented(opName, status, `${method.toUpperCase()} ${hit.route.template}`, errors);
      pointer = `/components/schemas/${FALLBACK_ERROR_SCHEMA[status] ?? 'ApiErrorBadRequest'}`;
    }
  }

  const validate = validatorAt(pointer);
  if (!validate(body)) {
    for (const e of ajvErrors(validate)) {
      const known = KNOWN_SCHEMA_DEVIATIONS.find(
        (d) => [d.keyword].flat().includes(e.keyword) && d.test(e, at(body, e.pointer)),
      );
      if (known) recordDeviation({ operation: '(schema)', status, kind: known.label, reason: known.reason, detail: opName });
      else errors.push(e);
    }
  }
  if (status >= 400 && body && typeof body === 'object' && body.status !== status) {
    errors.push({ pointer: '/status', message: `error body status ${JSON.stringify(body.status)} is not the HTTP status ${status}` });
  }
  return { operation: opName, template: hit?.operation ? hit.route.template : null, status, schema: `lago#${pointer}`, errors };
}

function noteUndocumented(opName, status, detail, errors) {
  const reason = KNOWN_STATUS_DEVIATIONS[`${opName} ${status}`] ?? KNOWN_STATUS_DEVIATIONS[`* ${status}`];
  if (reason) recordDeviation({ operation: opName, status, kind: 'status not in spec', reason, detail });
  else errors.push({ pointer: '', message: `status ${status} is not documented for ${detail} and is no known deviation` });
}

/** Like `responseErrors`, but throws an `OpenApiError` when there is any error. */
export function validateResponse(method, path, status, body) {
  const result = responseErrors(method, path, status, body);
  if (result.errors.length) {
    throw new OpenApiError(`${result.operation} ${method.toUpperCase()} ${path} → ${status}`, result.errors);
  }
  return result;
}
