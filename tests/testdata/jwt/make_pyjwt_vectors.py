#!/usr/bin/python3
# Generated tests/testdata/jwt/pyjwt_* ONCE, by hand, as an independent-implementation
# vector for tests/crypto/jwt_test.cc (PyJWT from Debian python3-jwt, keys from
# python3-cryptography). Tests never run this; rerunning makes new keys, so the test's
# expected values would need updating. The private keys are discarded.
#   /usr/bin/python3 tests/testdata/jwt/make_pyjwt_vectors.py tests/testdata/jwt
import json
import sys

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

out = sys.argv[1]
ed_key = ed25519.Ed25519PrivateKey.generate()
ec_key = ec.generate_private_key(ec.SECP256R1())

ed_jwk = json.loads(OKPAlgorithm.to_jwk(ed_key.public_key()))
ed_jwk.update(kid="pyjwt-ed25519", alg="EdDSA", use="sig")
ec_jwk = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
ec_jwk.update(kid="pyjwt-p256", alg="ES256", use="sig")
with open(f"{out}/pyjwt_jwks.json", "w") as f:
    json.dump({"keys": [ed_jwk, ec_jwk]}, f, indent=2)
    f.write("\n")

claims = {
    "iss": "https://idp.example.test",
    "sub": "clinician-0042",
    "aud": ["other-service", "carelog"],
    "iat": 1704067200,  # 2024-01-01T00:00:00Z
    "nbf": 1704067200,
    "exp": 4102444800,  # 2100-01-01T00:00:00Z
    "jti": "pyjwt-vector-1",
    "roles": ["clinician", "auditor"],
}
with open(f"{out}/pyjwt_eddsa.jwt", "w") as f:
    f.write(jwt.encode(claims, ed_key, algorithm="EdDSA", headers={"kid": "pyjwt-ed25519"}) + "\n")
with open(f"{out}/pyjwt_es256.jwt", "w") as f:
    f.write(jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "pyjwt-p256"}) + "\n")
