#!/usr/bin/python3
"""carelog end-to-end client in Python (Debian's python3-grpcio).

Starts the real carelogd (--dev, 127.0.0.1:0, a fresh temp data directory, a
0600 key-encryption key), generates Python stubs from proto/ with
grpc_tools.protoc into --work-dir, mints its own EdDSA tokens from the dev
issuer's key with PyJWT, runs the shared patient-support scenario
(tests/e2e/scenario.json) step by step, stops the server with SIGTERM and
verifies the data directory offline with carelogctl.

Exit 0 when every step passed; 1 otherwise. The last line is the summary:
  e2e-python: N passed, M failed, K pending
Run with /usr/bin/python3 (Debian's packages do not load into other Pythons).
"""

import argparse
import importlib
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario_lib  # noqa: E402  (shared scenario interpretation, pure Python)

SERVER_START_TIMEOUT_S = 60
CALL_TIMEOUT_S = 30


def generate_stubs(proto_root, extra_root, out_dir):
    """Runs grpc_tools.protoc over proto/carelog/v1 and the vendored health and
    reflection protos; returns the list of generated module names."""
    from grpc_tools import protoc  # Debian python3-grpc-tools

    shutil.rmtree(out_dir, ignore_errors=True)  # stale stubs of removed protos
    os.makedirs(out_dir)
    carelog = sorted(
        os.path.join("carelog", "v1", f)
        for f in os.listdir(os.path.join(proto_root, "carelog", "v1"))
        if f.endswith(".proto"))
    extras = ["src/proto/grpc/health/v1/health.proto",
              "src/proto/grpc/reflection/v1alpha/reflection.proto"]
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    for root, files in ((proto_root, carelog), (extra_root, extras)):
        args = ["grpc_tools.protoc", "-I" + root, "-I" + include,
                "--python_out=" + out_dir, "--grpc_python_out=" + out_dir] + files
        if protoc.main(args) != 0:
            raise RuntimeError("grpc_tools.protoc failed for " + root)
    sys.path.insert(0, out_dir)
    return [f[:-len(".proto")].replace("/", ".") for f in carelog + extras]


class Server:
    """carelogd as a child process; stderr (JSON lines) is drained by a thread."""

    def __init__(self, carelogd, data_dir, key_file):
        self.lines = []
        self._started = queue.Queue()
        self.proc = subprocess.Popen(
            [carelogd, "--dev", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
             "--key-file", key_file, "--metrics-listen", "", "--drain-seconds", "5"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if '"server_started"' in line:
                self._started.put(line)
        self._started.put(None)  # exited

    def wait_started(self):
        try:
            line = self._started.get(timeout=SERVER_START_TIMEOUT_S)
        except queue.Empty:
            line = None
        if line is None:
            raise RuntimeError("carelogd did not start:\n" + "".join(self.lines))
        return scenario_lib.int_field(line, "port")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=10)
        return code


class Client:
    def __init__(self, address, modules, issuer, issuer_key_pem):
        import grpc
        import jwt  # Debian python3-jwt (with python3-cryptography for EdDSA)

        self.grpc = grpc
        self.jwt = jwt
        self.channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(self.channel).result(timeout=SERVER_START_TIMEOUT_S)
        self.modules = {m: importlib.import_module(m) for m in modules}
        self.issuer = issuer
        self.key = issuer_key_pem
        from google.protobuf import symbol_database
        self.pool = symbol_database.Default().pool

    def token(self, sub, roles, variant=None):
        """An EdDSA JWT from the dev issuer's key; `variant` (scenario steps'
        "token") makes the forgeries a security reviewer tries first."""
        now = int(time.time())
        claims = {"iss": self.issuer["iss"], "aud": self.issuer["aud"], "sub": sub,
                  "roles": roles, "iat": now, "exp": now + self.issuer["ttl_seconds"],
                  "jti": uuid.uuid4().hex}
        key, alg = self.key, "EdDSA"
        if variant == "expired":
            claims.update(iat=now - 1200, exp=now - 600)
        elif variant == "wrong_audience":
            claims["aud"] = "not-" + self.issuer["aud"]
        elif variant == "foreign_key":
            from cryptography.hazmat.primitives.asymmetric import ed25519
            key = ed25519.Ed25519PrivateKey.generate()
        elif variant == "alg_none":
            key, alg = None, "none"
        elif variant not in (None, "escalated_roles"):
            raise ValueError("unknown token variant " + variant)
        token = self.jwt.encode(claims, key, algorithm=alg, headers={"kid": self.issuer["kid"]})
        if variant == "escalated_roles":
            # Same signature, payload rewritten with a role that may read this record.
            import base64
            import json
            header, _, signature = token.split(".")
            claims["roles"] = ["front_desk"]  # would be allowed to read (any relationship)
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            token = ".".join([header, payload, signature])
        return token

    def metadata(self, actor, purpose, reason):
        md = [("x-carelog-purpose", purpose)]
        if actor.get("token") != "missing":
            md.append(("authorization", "Bearer " + self.token(actor["sub"], actor["roles"], actor.get("token"))))
        if reason:
            md.append(("x-carelog-reason", reason))
        return md

    def _stub_and_types(self, full_method):
        service_name, method_name = full_method.split("/")
        service = self.pool.FindServiceByName(service_name)
        method = service.FindMethodByName(method_name)
        grpc_module = self.modules[service.file.name[:-len(".proto")].replace("/", ".") + "_pb2_grpc"]
        stub = getattr(grpc_module, service.name + "Stub")(self.channel)
        in_module = self.modules[method.input_type.file.name[:-len(".proto")].replace("/", ".") + "_pb2"]
        return getattr(stub, method_name), getattr(in_module, method.input_type.name)

    def call(self, full_method, request_dict, metadata):
        """Returns (code name, message, reply dict or None)."""
        from google.protobuf import json_format
        rpc, request_type = self._stub_and_types(full_method)
        request = json_format.ParseDict(request_dict, request_type())
        try:
            reply = rpc(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
        except self.grpc.RpcError as e:
            return e.code().name, e.details() or "", None
        return "OK", "", json_format.MessageToDict(
            reply, preserving_proto_field_name=True, including_default_value_fields=True)

    def health(self, service):
        m = self.modules["src.proto.grpc.health.v1.health_pb2"]
        g = self.modules["src.proto.grpc.health.v1.health_pb2_grpc"]
        reply = g.HealthStub(self.channel).Check(
            m.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT_S)
        return m.HealthCheckResponse.ServingStatus.Name(reply.status)

    def list_services(self):
        m = self.modules["src.proto.grpc.reflection.v1alpha.reflection_pb2"]
        g = self.modules["src.proto.grpc.reflection.v1alpha.reflection_pb2_grpc"]
        stub = g.ServerReflectionStub(self.channel)
        replies = stub.ServerReflectionInfo(
            iter([m.ServerReflectionRequest(list_services="")]), timeout=CALL_TIMEOUT_S)
        names = []
        for r in replies:
            names.extend(s.name for s in r.list_services_response.service)
        return names


def run(args):
    scenario = scenario_lib.load(args.scenario)
    tmp = tempfile.mkdtemp(prefix="carelog-e2e-py-")
    data_dir = os.path.join(tmp, "data")
    key_file = os.path.join(tmp, "kek.hex")
    # The key-encryption key: 64 hex characters, mode 0600, outside the data dir.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")

    bases = generate_stubs(args.proto_root, args.extra_proto_root, args.work_dir)
    modules = [b + suffix for b in bases for suffix in ("_pb2", "_pb2_grpc")]

    server = Server(args.carelogd, data_dir, key_file)
    results = scenario_lib.Results("e2e-python")
    try:
        port = server.wait_started()
        with open(os.path.join(data_dir, "dev-issuer", "issuer.pem"), "rb") as f:
            issuer_key = f.read()
        client = Client("127.0.0.1:%d" % port, modules, scenario["issuer"], issuer_key)
        runner = scenario_lib.Runner(scenario, client, results, new_id=lambda: "e2e-py-" + uuid.uuid4().hex)
        runner.run_all()
        client.channel.close()
    except Exception:  # a harness failure is a failed run, with its trace
        results.fail("harness", traceback.format_exc())
    finally:
        code = server.stop()
    log = "".join(server.lines)
    if code != 0:
        results.fail("carelogd exits 0 on SIGTERM", "exit code %s\n%s" % (code, log[-4000:]))
    else:
        results.ok("carelogd exits 0 on SIGTERM")
    leaked = [p for p in scenario["phi"] if p in log]
    if leaked:
        results.fail("carelogd's log carries no patient data", "%d synthetic PHI strings in the log" % len(leaked))
    else:
        results.ok("carelogd's log carries no patient data")
    verify = subprocess.run([args.carelogctl, "verify", "--data-dir", data_dir],
                            capture_output=True, text=True, timeout=120)
    if verify.returncode == 0:
        results.ok("carelogctl verify: the chain holds")
    else:
        results.fail("carelogctl verify: the chain holds", verify.stdout + verify.stderr)
    if results.failed == 0 and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("data left in " + tmp)
    return results.finish()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--carelogd", required=True)
    p.add_argument("--carelogctl", required=True)
    p.add_argument("--proto-root", required=True, help="the repository's proto/ folder")
    p.add_argument("--extra-proto-root", required=True,
                   help="folder holding src/proto/grpc/{health,reflection} protos")
    p.add_argument("--scenario", required=True)
    p.add_argument("--work-dir", required=True, help="where the generated stubs go")
    p.add_argument("--keep", action="store_true", help="keep the temp data directory")
    sys.exit(run(p.parse_args()))


if __name__ == "__main__":
    main()
