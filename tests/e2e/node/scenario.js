'use strict';
// Interprets tests/e2e/scenario.json for the Node e2e client — the same rules
// as tests/e2e/python/scenario_lib.py (see tests/e2e/README.md): variables and
// substitution, step dispatch, expectations on reply objects (proto field
// names, int64 as strings, enums as names) and the result summary. The gRPC
// work (channels, tokens, the server process) lives in e2e_client.js.

const VAR = /\$\{([A-Za-z0-9_]+)\}/g;
const WHOLE_VAR = /^\$\{([A-Za-z0-9_]+)\}$/;

class StepFailed extends Error {}

// Times (Unix microseconds as int64 JSON strings) and dates ({year, month,
// day}) relative to today's UTC midnight.
function clockVars(scenario, now = new Date()) {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const out = {};
  for (const [name, t] of Object.entries(scenario.clock || {})) {
    const ms = midnight + ((t.days * 24 + (t.hour || 0)) * 60 + (t.minute || 0)) * 60000;
    out[name] = String(BigInt(ms) * 1000n);
  }
  for (const [name, d] of Object.entries(scenario.dates || {})) {
    const day = new Date(midnight + d.days * 86400000);
    out[name] = {year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate()};
  }
  return out;
}

function getPath(value, path) {
  for (const part of path ? path.split('.') : []) {
    if (Array.isArray(value)) {
      if (!/^\d+$/.test(part) || Number(part) >= value.length) return undefined;
      value = value[Number(part)];
    } else if (value !== null && typeof value === 'object') {
      value = value[part];
    } else {
      return undefined;
    }
  }
  return value;
}

function isEmpty(v) {
  if (v === undefined || v === null || v === false || v === '' || v === 0 || v === '0') return true;
  if (typeof v === 'string') return v.endsWith('_UNSPECIFIED');
  if (Buffer.isBuffer(v) || Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v).every(isEmpty);
  return false;
}

function same(a, b) {
  if (typeof a === 'boolean' || typeof b === 'boolean') return a === b;
  const scalar = (x) => typeof x === 'number' || typeof x === 'string';
  if (scalar(a) && scalar(b)) return String(a) === String(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  return JSON.stringify(a) === JSON.stringify(b);
}

const show = (v) => JSON.stringify(v);

class Results {
  constructor(label) {
    Object.assign(this, {label, passed: 0, failed: 0, pending: 0});
  }
  ok(name) {
    this.passed++;
    console.log(`PASS    ${name}`);
  }
  fail(name, detail) {
    this.failed++;
    console.log(`FAIL    ${name}: ${detail}`);
  }
  skip(name, why) {
    this.pending++;
    console.log(`PENDING ${name}: ${why}`);
  }
  finish() {
    console.log(`${this.label}: ${this.passed} passed, ${this.failed} failed, ${this.pending} pending`);
    return this.failed === 0 && this.passed > 0 ? 0 : 1;
  }
}

// Runs the steps in order with a client offering call(), health(),
// listServices() and metadata() (see e2e_client.js).
class Runner {
  constructor(scenario, client, results, newId) {
    Object.assign(this, {s: scenario, client, results, newId});
    this.vars = clockVars(scenario);
    this.vars.last_position = '0';
    this.sent = new Map();
    this.disclosures = [];  // {actor, purpose, resource, outcome} the reads should have audited
    this.auditMark = null;
    this.services = new Set();  // what reflection listed
  }

  // ---------------------------------------------------------- substitution
  subst(v) {
    if (Array.isArray(v)) return v.map((x) => this.subst(x));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.subst(x)]));
    }
    if (typeof v !== 'string') return v;
    const whole = WHOLE_VAR.exec(v);
    if (whole) return this.variable(whole[1]);
    return v.replace(VAR, (_, name) => String(this.variable(name)));
  }

  variable(name) {
    if (name === 'new_command_id') return this.newId();
    if (!(name in this.vars)) throw new StepFailed(`variable \${${name}} is not set (an earlier step failed?)`);
    return this.vars[name];
  }

  actor(step) {
    const a = this.s.actors[step.as];
    return {sub: this.subst(a.sub), roles: a.roles, purpose: a.purpose, token: step.token};
  }

  callAs(step, method, request) {
    const a = this.actor(step);
    return this.client.call(method, request, this.client.metadata(a, step.purpose || a.purpose, step.reason || ''));
  }

  // ---------------------------------------------------------- steps
  async runAll() {
    for (const step of this.s.steps) {
      const kind = step.kind || 'call';
      try {
        await this[`step_${kind}`](step);
        this.results.ok(step.name + (step.pending ? ' (its pending note is stale)' : ''));
      } catch (e) {
        if (!(e instanceof StepFailed)) throw e;
        // A pending step documents a known gap: it runs but cannot fail the run.
        if (step.pending) this.results.skip(step.name, `${step.pending}; now: ${e.message}`);
        else this.results.fail(step.name, e.message);
      }
    }
  }

  async step_health(step) {
    for (const svc of step.services) {
      const status = await this.client.health(svc);
      if (status !== 'SERVING') throw new StepFailed(`health of ${show(svc)} is ${status}`);
    }
  }

  async step_reflection() {
    const names = new Set(await this.client.listServices());
    this.services = names;
    const missing = this.s.services.filter((s) => !names.has(s));
    if (missing.length) throw new StepFailed(`reflection does not list ${show(missing)} (it lists ${show([...names].sort())})`);
  }

  async step_call(step) {
    let method;
    let request;
    if (step.resend) {
      [method, request] = this.sent.get(step.resend);
    } else {
      [method, request] = [step.call, this.subst(step.request)];
      this.sent.set(step.name, [method, request]);
    }
    const a = this.actor(step);
    const purpose = step.purpose || a.purpose;
    for (const d of step.discloses || []) {
      // A pending step's outcome is not known yet: any outcome matches.
      this.disclosures.push({actor: a.sub, purpose, resource: d.resource, outcome: step.pending ? null : d.outcome});
    }
    const {code, message, reply} = await this.callAs(step, method, request);
    this.check(step.expect || {}, code, message, reply);
  }

  check(expect, code, message, reply) {
    const want = expect.code || 'OK';
    if (code !== want) throw new StepFailed(`expected ${want}, got ${code}: ${message}`);
    if (expect.message_contains && !message.includes(expect.message_contains)) {
      throw new StepFailed(`message ${show(message)} lacks ${show(expect.message_contains)}`);
    }
    if (!reply) return;
    const pos = getPath(reply, 'result.position');
    if (pos !== undefined && pos !== null && BigInt(pos) > BigInt(this.vars.last_position)) {
      this.vars.last_position = String(pos);
    }
    for (const [path, v0] of Object.entries(expect.equals || {})) {
      const got = getPath(reply, path);
      const v = this.subst(v0);
      if (!same(got, v)) throw new StepFailed(`${path}: expected ${show(v)}, got ${show(got)}`);
    }
    for (const path of expect.nonempty || []) {
      if (isEmpty(getPath(reply, path))) throw new StepFailed(`${path} is empty`);
    }
    for (const path of expect.empty || []) {
      if (!isEmpty(getPath(reply, path))) {
        throw new StepFailed(`${path} should be empty (masked), got ${show(getPath(reply, path))}`);
      }
    }
    for (const [path, v] of Object.entries(expect.contains || {})) {
      const got = getPath(reply, path) || [];
      if (!got.some((x) => same(x, this.subst(v)))) throw new StepFailed(`${path}: ${show(v)} not in ${show(got)}`);
    }
    for (const [path, n] of Object.entries(expect.count || {})) {
      const got = getPath(reply, path) || [];
      if (got.length !== n) throw new StepFailed(`${path}: expected ${n} entries, got ${got.length}`);
    }
    for (const [path, fields0] of Object.entries(expect.any || {})) {
      const rows = getPath(reply, path) || [];
      const fields = this.subst(fields0);
      if (!rows.some((r) => Object.entries(fields).every(([p, v]) => same(getPath(r, p), v)))) {
        throw new StepFailed(`${path}: no entry matches ${show(fields)}`);
      }
    }
    for (const [name, path] of Object.entries(expect.save || {})) {
      const v = getPath(reply, path);
      if (isEmpty(v)) throw new StepFailed(`nothing to save at ${path}`);
      this.vars[name] = v;
    }
  }

  // ---------------------------------------------------------- audit trail
  // The envelopes of stream audit/<patient>, read as the step's actor through
  // LedgerService.ReadStream (headers only: payloads stay sealed).
  async auditEvents(step) {
    const stream = `audit/${this.variable('patient_id')}`;
    const events = [];
    let version = 1;
    for (;;) {
      const {code, message, reply} = await this.callAs(step, 'carelog.v1.LedgerService/ReadStream',
          {stream_id: stream, from_version: String(version), max_count: 1000});
      if (code !== 'OK') throw new StepFailed(`ReadStream ${stream}: ${code} ${message}`);
      events.push(...(reply.events || []));
      if (String(reply.next || '0') === '0') return events;
      version = Number(reply.next);
    }
  }

  async step_audit_mark(step) {
    this.auditMark = (await this.auditEvents(step)).length;
    if (this.auditMark === 0) throw new StepFailed('the commands left no audit events on audit/<patient>');
  }

  async step_accounting(step) {
    if (!this.services.has('carelog.v1.AuditService')) {
      throw new StepFailed('reflection does not list carelog.v1.AuditService');
    }
    await this.accountingFromAuditService(step);
  }

  // Every AuditRecord of the patient, paged through AuditService.QueryAudit.
  async queryAudit(step, minPosition) {
    const records = [];
    let token = '';
    for (;;) {
      const {code, message, reply} = await this.callAs(step, 'carelog.v1.AuditService/QueryAudit', {
        filter: {patient_id: this.variable('patient_id')}, min_position: String(minPosition),
        page_size: 500, page_token: token});
      if (code !== 'OK') throw new StepFailed(`QueryAudit: ${code} ${message}`);
      records.push(...(reply.records || []));
      token = reply.next_page_token || '';
      if (!token) return records;
    }
  }

  // The compliance officer's accounting of disclosures: the patient's read
  // decisions are exactly the scenario's (actor, purpose, resource, outcome),
  // nothing more or less; the officer's own query is audited too.
  async accountingFromAuditService(step) {
    const head = await this.callAs({...step, as: step.ledger_as}, 'carelog.v1.LedgerService/GetHead', {});
    if (head.code !== 'OK') throw new StepFailed(`GetHead: ${head.code} ${head.message}`);
    const records = await this.queryAudit(step, head.reply.position);
    const actual = records
        .filter((r) => getPath(r, 'access.action') === 'read' && getPath(r, 'access.resource') !== 'audit')
        .map((r) => ({actor: getPath(r, 'access.actor'), purpose: getPath(r, 'access.purpose'),
          resource: getPath(r, 'access.resource'), outcome: getPath(r, 'access.outcome')}));
    const missing = [];
    for (const want of this.disclosures) {
      const i = actual.findIndex((got) => got.actor === want.actor && got.purpose === want.purpose &&
          got.resource === want.resource && (want.outcome === null || got.outcome === want.outcome));
      if (i < 0) missing.push(want);
      else actual.splice(i, 1);
    }
    if (missing.length || actual.length) {
      throw new StepFailed(`accounting differs: missing ${show(missing)}, unexpected ${show(actual)}`);
    }
    // The query just made is itself an audited read of this patient's trail.
    const again = await this.queryAudit(step, 0);
    const me = this.actor(step).sub;
    if (!again.some((r) => getPath(r, 'access.resource') === 'audit' && getPath(r, 'access.actor') === me)) {
      throw new StepFailed('the compliance officer\'s own query is not in the audit trail');
    }
  }
}

module.exports = {Runner, Results, StepFailed, clockVars, getPath, isEmpty, same};
