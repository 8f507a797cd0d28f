"""Interprets tests/e2e/scenario.json for the Python e2e client.

The gRPC work (stubs, channels, tokens) lives in e2e_client.py; this module
holds what is pure: variables and substitution, step dispatch, expectations on
reply dicts (protobuf JSON mapping with the proto field names: int64 values are
strings, enums are names) and the result summary. tests/e2e/node/scenario.js
implements the same rules for the Node client; tests/e2e/README.md documents
the format.
"""

import datetime
import json
import re

_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class StepFailed(Exception):
    pass


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def int_field(line, key):
    m = re.search(r'"%s":(\d+)' % re.escape(key), line)
    if not m:
        raise StepFailed("no %s in %s" % (key, line.strip()))
    return int(m.group(1))


def clock_vars(scenario, now=None):
    """Times (Unix microseconds, as int64 JSON strings) and dates ({year, month,
    day}) relative to today's UTC midnight."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    out = {}
    for name, t in scenario.get("clock", {}).items():
        at = midnight + datetime.timedelta(days=t["days"], hours=t.get("hour", 0), minutes=t.get("minute", 0))
        out[name] = str(int(at.timestamp()) * 1000000)
    for name, d in scenario.get("dates", {}).items():
        day = (midnight + datetime.timedelta(days=d["days"])).date()
        out[name] = {"year": day.year, "month": day.month, "day": day.day}
    return out


def get_path(value, path):
    for part in path.split(".") if path else []:
        if isinstance(value, list):
            if not part.isdigit() or int(part) >= len(value):
                return None
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def is_empty(v):
    if v is None or v is False or v == "" or v == 0 or v == "0":
        return True
    if isinstance(v, str) and v.endswith("_UNSPECIFIED"):
        return True
    if isinstance(v, list):
        return len(v) == 0
    if isinstance(v, dict):
        return all(is_empty(x) for x in v.values())
    return False


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, str)) and isinstance(b, (int, str)) and not isinstance(a, bool):
        return str(a) == str(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


class Results:
    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0
        self.pending = 0

    def ok(self, name):
        self.passed += 1
        print("PASS    " + name, flush=True)

    def fail(self, name, detail):
        self.failed += 1
        print("FAIL    %s: %s" % (name, detail), flush=True)

    def skip(self, name, why):
        self.pending += 1
        print("PENDING %s: %s" % (name, why), flush=True)

    def finish(self):
        print("%s: %d passed, %d failed, %d pending" % (self.label, self.passed, self.failed, self.pending),
              flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


class Runner:
    """Runs the steps in order with a client that offers call(), health(),
    list_services() and metadata() (see e2e_client.Client)."""

    def __init__(self, scenario, client, results, new_id):
        self.s = scenario
        self.client = client
        self.results = results
        self.new_id = new_id
        self.vars = clock_vars(scenario)
        self.vars["last_position"] = "0"
        self.sent = {}
        self.disclosures = []  # (actor, purpose, resource, outcome) the reads should have audited
        self.audit_mark = None
        self.services = set()  # what reflection listed

    # ------------------------------------------------------------ substitution
    def subst(self, v):
        if isinstance(v, dict):
            return {k: self.subst(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.subst(x) for x in v]
        if not isinstance(v, str):
            return v
        whole = _VAR.fullmatch(v)
        if whole:
            return self.var(whole.group(1))
        return _VAR.sub(lambda m: str(self.var(m.group(1))), v)

    def var(self, name):
        if name == "new_command_id":
            return self.new_id()
        if name not in self.vars:
            raise StepFailed("variable ${%s} is not set (an earlier step failed?)" % name)
        return self.vars[name]

    def actor(self, step):
        a = self.s["actors"][step["as"]]
        return {"sub": self.subst(a["sub"]), "roles": a["roles"], "purpose": a["purpose"],
                "token": step.get("token")}

    def call_as(self, step, method, request):
        a = self.actor(step)
        md = self.client.metadata(a, step.get("purpose", a["purpose"]), step.get("reason", ""))
        return self.client.call(method, request, md)

    # ------------------------------------------------------------ steps
    def run_all(self):
        for step in self.s["steps"]:
            name = step["name"]
            try:
                getattr(self, "step_" + step.get("kind", "call"))(step)
                self.results.ok(name + (" (its pending note is stale)" if step.get("pending") else ""))
            except StepFailed as e:
                # A pending step documents a known gap: it still runs (so the day
                # the server does it, the log says so) but cannot fail the run.
                if step.get("pending"):
                    self.results.skip(name, "%s; now: %s" % (step["pending"], e))
                else:
                    self.results.fail(name, str(e))

    def step_health(self, step):
        for svc in step["services"]:
            status = self.client.health(svc)
            if status != "SERVING":
                raise StepFailed("health of %r is %s" % (svc, status))

    def step_reflection(self, step):
        names = set(self.client.list_services())
        self.services = names
        missing = [s for s in self.s["services"] if s not in names]
        if missing:
            raise StepFailed("reflection does not list %s (it lists %s)" % (missing, sorted(names)))

    def step_call(self, step):
        if "resend" in step:
            method, request = self.sent[step["resend"]]
        else:
            method, request = step["call"], self.subst(step["request"])
            self.sent[step["name"]] = (method, request)
        a = self.actor(step)
        purpose = step.get("purpose", a["purpose"])
        for d in step.get("discloses", []):
            # A pending step's outcome is not known yet: any outcome matches.
            outcome = None if step.get("pending") else d["outcome"]
            self.disclosures.append((a["sub"], purpose, d["resource"], outcome))
        code, message, reply = self.call_as(step, method, request)
        self.check(step.get("expect", {}), code, message, reply)

    def check(self, expect, code, message, reply):
        want = expect.get("code", "OK")
        if code != want:
            raise StepFailed("expected %s, got %s: %s" % (want, code, message))
        if "message_contains" in expect and expect["message_contains"] not in message:
            raise StepFailed("message %r lacks %r" % (message, expect["message_contains"]))
        if reply is None:
            return
        pos = get_path(reply, "result.position")
        if pos is not None and int(pos) > int(self.vars["last_position"]):
            self.vars["last_position"] = str(pos)
        for path, v in expect.get("equals", {}).items():
            got, v = get_path(reply, path), self.subst(v)
            if not same(got, v):
                raise StepFailed("%s: expected %r, got %r" % (path, v, got))
        for path in expect.get("nonempty", []):
            if is_empty(get_path(reply, path)):
                raise StepFailed("%s is empty" % path)
        for path in expect.get("empty", []):
            if not is_empty(get_path(reply, path)):
                raise StepFailed("%s should be empty (masked), got %r" % (path, get_path(reply, path)))
        for path, v in expect.get("contains", {}).items():
            got = get_path(reply, path) or []
            if not any(same(x, self.subst(v)) for x in got):
                raise StepFailed("%s: %r not in %r" % (path, v, got))
        for path, n in expect.get("count", {}).items():
            got = get_path(reply, path) or []
            if len(got) != n:
                raise StepFailed("%s: expected %d entries, got %d" % (path, n, len(got)))
        for path, fields in expect.get("any", {}).items():
            rows = get_path(reply, path) or []
            fields = self.subst(fields)
            if not any(all(same(get_path(r, p), v) for p, v in fields.items()) for r in rows):
                raise StepFailed("%s: no entry matches %r" % (path, fields))
        for var, path in expect.get("save", {}).items():
            v = get_path(reply, path)
            if is_empty(v):
                raise StepFailed("nothing to save at %s" % path)
            self.vars[var] = v

    # ------------------------------------------------------------ audit trail
    def audit_events(self, step):
        """The envelopes of stream audit/<patient>, read as the step's actor
        through LedgerService.ReadStream (headers only: payloads stay sealed)."""
        stream = "audit/" + self.var("patient_id")
        events, version = [], 1
        while True:
            code, message, reply = self.call_as(step, "carelog.v1.LedgerService/ReadStream",
                                                {"stream_id": stream, "from_version": str(version),
                                                 "max_count": 1000})
            if code != "OK":
                raise StepFailed("ReadStream %s: %s %s" % (stream, code, message))
            events.extend(reply.get("events", []))
            if str(reply.get("next", "0")) == "0":
                return events
            version = int(reply["next"])

    def step_audit_mark(self, step):
        self.audit_mark = len(self.audit_events(step))
        if self.audit_mark == 0:
            raise StepFailed("the commands left no audit events on audit/<patient>")

    def step_accounting(self, step):
        if "carelog.v1.AuditService" not in self.services:
            raise StepFailed("reflection does not list carelog.v1.AuditService")
        self.accounting_from_audit_service(step)

    def query_audit(self, step, min_position):
        """Every AuditRecord of the patient, paged through AuditService.QueryAudit."""
        records, token = [], ""
        while True:
            code, message, reply = self.call_as(step, "carelog.v1.AuditService/QueryAudit", {
                "filter": {"patient_id": self.var("patient_id")}, "min_position": str(min_position),
                "page_size": 500, "page_token": token})
            if code != "OK":
                raise StepFailed("QueryAudit: %s %s" % (code, message))
            records.extend(reply.get("records", []))
            token = reply.get("next_page_token", "")
            if not token:
                return records

    def accounting_from_audit_service(self, step):
        """The compliance officer's accounting of disclosures: the patient's read
        decisions are exactly the scenario's (actor, purpose, resource, outcome),
        nothing more or less; the officer's own query is audited too."""
        code, message, head = self.call_as(dict(step, **{"as": step["ledger_as"]}),
                                           "carelog.v1.LedgerService/GetHead", {})
        if code != "OK":
            raise StepFailed("GetHead: %s %s" % (code, message))
        records = self.query_audit(step, head["position"])
        actual = [(get_path(r, "access.actor"), get_path(r, "access.purpose"), get_path(r, "access.resource"),
                   get_path(r, "access.outcome"))
                  for r in records
                  if get_path(r, "access.action") == "read" and get_path(r, "access.resource") != "audit"]
        missing = []
        for want in self.disclosures:
            match = next((i for i, got in enumerate(actual)
                          if got[:3] == want[:3] and (want[3] is None or got[3] == want[3])), None)
            if match is None:
                missing.append(want)
            else:
                actual.pop(match)
        if missing or actual:
            raise StepFailed("accounting differs: missing %r, unexpected %r" % (missing, actual))
        # The query just made is itself an audited read of this patient's trail.
        again = self.query_audit(step, 0)
        me = self.actor(step)
        if not any(get_path(r, "access.resource") == "audit" and get_path(r, "access.actor") == me["sub"]
                   for r in again):
            raise StepFailed("the compliance officer's own query is not in the audit trail")

