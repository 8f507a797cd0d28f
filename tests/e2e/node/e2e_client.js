#!/usr/bin/env node
'use strict';
// carelog end-to-end client in Node (@grpc/grpc-js and @grpc/proto-loader from
// npm, pinned in package-lock.json, installed by ops/install-deps.sh).
//
// Starts the real carelogd (--dev, 127.0.0.1:0, a fresh temp data directory, a
// 0600 key-encryption key), loads proto/ with proto-loader, mints its own
// EdDSA tokens from the dev issuer's key with node:crypto, runs the shared
// patient-support scenario (tests/e2e/scenario.json), stops the server with
// SIGTERM and verifies the data directory offline with carelogctl.
//
// Exit 0 when every step passed; 1 otherwise. The last line is the summary:
//   e2e-node: N passed, M failed, K pending
// Usage: node e2e_client.js --carelogd PATH --carelogctl PATH --proto-root DIR
//          --extra-proto-root DIR --scenario FILE [--keep]

const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const {parseArgs} = require('node:util');

// Exit code 77 (ctest SKIP_RETURN_CODE) when the npm packages are not
// installed in this tree: a worktree that has not run ops/install-deps.sh.
// make test runs install-deps first, which fails loudly if npm ci fails.
let grpc;
let protoLoader;
try {
  grpc = require('@grpc/grpc-js');
  protoLoader = require('@grpc/proto-loader');
} catch (e) {
  if (e.code !== 'MODULE_NOT_FOUND') throw e;
  console.log(`e2e-node: SKIPPED: ${e.message.split('\n')[0]} (run ops/install-deps.sh: npm ci in tests/e2e/node)`);
  process.exit(77);
}

const {Runner, Results} = require('./scenario.js');

const SERVER_START_TIMEOUT_MS = 60000;
const CALL_TIMEOUT_MS = 30000;

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

function loadProtos(protoRoot, extraRoot) {
  const carelog = fs.readdirSync(path.join(protoRoot, 'carelog', 'v1'))
      .filter((f) => f.endsWith('.proto')).sort().map((f) => `carelog/v1/${f}`);
  const extras = ['src/proto/grpc/health/v1/health.proto', 'src/proto/grpc/reflection/v1alpha/reflection.proto'];
  const def = protoLoader.loadSync([...carelog, ...extras], {
    keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
    includeDirs: [protoRoot, extraRoot],
  });
  return grpc.loadPackageDefinition(def);
}

function lookup(pkg, fullName) {
  const found = fullName.split('.').reduce((o, part) => (o ? o[part] : undefined), pkg);
  if (typeof found !== 'function') throw new Error(`no service ${fullName} in the loaded protos`);
  return found;
}

// carelogd as a child process; its stderr (JSON lines) is kept for checks.
class Server {
  constructor(carelogd, dataDir, keyFile) {
    this.lines = [];
    this.proc = childProcess.spawn(carelogd, [
      '--dev', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--key-file', keyFile,
      '--metrics-listen', '', '--drain-seconds', '5'], {stdio: ['ignore', 'ignore', 'pipe']});
    this.exited = new Promise((resolve) => this.proc.on('close', (code, signal) => resolve({code, signal})));
    this.started = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`carelogd did not start:\n${this.lines.join('\n')}`)),
          SERVER_START_TIMEOUT_MS);
      readline.createInterface({input: this.proc.stderr}).on('line', (line) => {
        this.lines.push(line);
        if (line.includes('"server_started"')) {
          clearTimeout(timer);
          const m = /"port":(\d+)/.exec(line);
          if (m) resolve(Number(m[1]));
          else reject(new Error(`no port in ${line}`));
        }
      });
      this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`carelogd exited before starting:\n${this.lines.join('\n')}`));
      });
    });
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => {
        this.proc.kill('SIGKILL');
        resolve({code: null, signal: 'SIGKILL (no exit 30 s after SIGTERM)'});
      }, 30000);
    });
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    return r;
  }
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

class Client {
  constructor(address, pkg, issuer, issuerKeyPem) {
    this.address = address;
    this.pkg = pkg;
    this.issuer = issuer;
    this.key = crypto.createPrivateKey(issuerKeyPem);
    this.creds = grpc.credentials.createInsecure();
    this.stubs = new Map();
  }

  stub(serviceName) {
    if (!this.stubs.has(serviceName)) {
      const Ctor = lookup(this.pkg, serviceName);
      this.stubs.set(serviceName, new Ctor(this.address, this.creds));
    }
    return this.stubs.get(serviceName);
  }

  close() {
    for (const s of this.stubs.values()) s.close();
  }

  // A compact JWS (EdDSA over Ed25519) signed with the dev issuer's key;
  // `variant` (scenario steps' "token") makes the forgeries a security
  // reviewer tries first.
  token(sub, roles, variant) {
    const now = Math.floor(Date.now() / 1000);
    const header = {alg: 'EdDSA', typ: 'JWT', kid: this.issuer.kid};
    const claims = {iss: this.issuer.iss, aud: this.issuer.aud, sub, roles, iat: now,
      exp: now + this.issuer.ttl_seconds, jti: crypto.randomUUID()};
    let key = this.key;
    if (variant === 'expired') Object.assign(claims, {iat: now - 1200, exp: now - 600});
    else if (variant === 'wrong_audience') claims.aud = `not-${this.issuer.aud}`;
    else if (variant === 'foreign_key') key = crypto.generateKeyPairSync('ed25519').privateKey;
    else if (variant === 'alg_none') header.alg = 'none';
    else if (variant && variant !== 'escalated_roles') throw new Error(`unknown token variant ${variant}`);
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = variant === 'alg_none' ? '' : b64url(crypto.sign(null, Buffer.from(input), key));
    if (variant === 'escalated_roles') {
      // Same signature, payload rewritten with a role that may read this record.
      const forged = {...claims, roles: ['front_desk']};
      return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(forged))}.${signature}`;
    }
    return `${input}.${signature}`;
  }

  metadata(actor, purpose, reason) {
    const md = new grpc.Metadata();
    if (actor.token !== 'missing') {
      md.set('authorization', `Bearer ${this.token(actor.sub, actor.roles, actor.token)}`);
    }
    md.set('x-carelog-purpose', purpose);
    if (reason) md.set('x-carelog-reason', reason);
    return md;
  }

  // Resolves {code: name, message, reply (or null)}; never rejects on a gRPC error.
  call(fullMethod, request, metadata) {
    const [serviceName, method] = fullMethod.split('/');
    const stub = this.stub(serviceName);
    if (typeof stub[method] !== 'function') throw new Error(`no method ${fullMethod}`);
    return new Promise((resolve) => {
      stub[method](request, metadata, {deadline: Date.now() + CALL_TIMEOUT_MS}, (err, reply) => {
        if (err) resolve({code: CODE_NAMES[err.code] || String(err.code), message: err.details || '', reply: null});
        else resolve({code: 'OK', message: '', reply});
      });
    });
  }

  health(service) {
    return new Promise((resolve, reject) => {
      this.stub('grpc.health.v1.Health').Check({service}, {deadline: Date.now() + CALL_TIMEOUT_MS},
          (err, reply) => (err ? reject(err) : resolve(reply.status)));
    });
  }

  listServices() {
    return new Promise((resolve, reject) => {
      const names = [];
      const stream = this.stub('grpc.reflection.v1alpha.ServerReflection')
          .ServerReflectionInfo({deadline: Date.now() + CALL_TIMEOUT_MS});
      stream.on('data', (r) => {
        for (const s of (r.list_services_response || {}).service || []) names.push(s.name);
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(names));
      stream.write({list_services: ''});
      stream.end();
    });
  }
}

async function run(args) {
  const scenario = JSON.parse(fs.readFileSync(args.scenario, 'utf8'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'carelog-e2e-node-'));
  const dataDir = path.join(tmp, 'data');
  const keyFile = path.join(tmp, 'kek.hex');
  // The key-encryption key: 64 hex characters, mode 0600, outside the data dir.
  fs.writeFileSync(keyFile, `${crypto.randomBytes(32).toString('hex')}\n`, {mode: 0o600, flag: 'wx'});

  const pkg = loadProtos(args['proto-root'], args['extra-proto-root']);
  const results = new Results('e2e-node');
  const server = new Server(args.carelogd, dataDir, keyFile);
  try {
    const port = await server.started;
    const pem = fs.readFileSync(path.join(dataDir, 'dev-issuer', 'issuer.pem'));
    const client = new Client(`127.0.0.1:${port}`, pkg, scenario.issuer, pem);
    try {
      await new Runner(scenario, client, results, () => `e2e-node-${crypto.randomUUID()}`).runAll();
    } finally {
      client.close();
    }
  } catch (e) {  // a harness failure is a failed run, with its trace
    results.fail('harness', e.stack || String(e));
  }
  const {code, signal} = await server.stop();
  const log = server.lines.join('\n');
  if (code === 0) results.ok('carelogd exits 0 on SIGTERM');
  else results.fail('carelogd exits 0 on SIGTERM', `exit ${code} signal ${signal}\n${log.slice(-4000)}`);
  const leaked = scenario.phi.filter((p) => log.includes(p));
  if (leaked.length) results.fail('carelogd\'s log carries no patient data', `${leaked.length} synthetic PHI strings in the log`);
  else results.ok('carelogd\'s log carries no patient data');
  const verify = childProcess.spawnSync(args.carelogctl, ['verify', '--data-dir', dataDir],
      {encoding: 'utf8', timeout: 120000});
  if (verify.status === 0) results.ok('carelogctl verify: the chain holds');
  else results.fail('carelogctl verify: the chain holds', `${verify.stdout}${verify.stderr}`);
  if (results.failed === 0 && !args.keep) fs.rmSync(tmp, {recursive: true, force: true});
  else console.log(`data left in ${tmp}`);
  return results.finish();
}

const {values} = parseArgs({options: {
  'carelogd': {type: 'string'}, 'carelogctl': {type: 'string'}, 'proto-root': {type: 'string'},
  'extra-proto-root': {type: 'string'}, 'scenario': {type: 'string'}, 'keep': {type: 'boolean'},
}});
for (const k of ['carelogd', 'carelogctl', 'proto-root', 'extra-proto-root', 'scenario']) {
  if (!values[k]) {
    console.error(`e2e_client.js: --${k} is required`);
    process.exit(2);
  }
}
run(values).then((code) => process.exit(code), (e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
