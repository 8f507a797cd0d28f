#include "tests/integration/test_certs.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "openssl/bio.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"

namespace carelog::integration {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

absl::Status OpenSslError(absl::string_view step) {
  return absl::InternalError(absl::StrCat("OpenSSL: ", step));
}

absl::StatusOr<Pkey> NewP256Key() {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key)
    return OpenSslError("EVP_EC_gen(P-256)");
  return key;
}

struct CertSpec {
  std::string common_name;
  bool is_ca = false;
  std::string extended_key_usage;  // "serverAuth" / "clientAuth" / ""
  std::string subject_alt_name;    // e.g. "DNS:localhost,IP:127.0.0.1"
  long serial = 1;
};

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid,
                          const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr)
    return OpenSslError(
        absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? absl::OkStatus() : OpenSslError("X509_add_ext");
}

// A certificate for `key` signed by (issuer, issuer_key); self-signed when
// issuer is null.
absl::StatusOr<Cert> MakeCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer,
                              EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  if (!cert)
    return OpenSslError("X509_new");
  X509* x = cert.get();
  if (X509_set_version(x, 2) != 1)
    return OpenSslError("X509_set_version");
  if (ASN1_INTEGER_set(X509_get_serialNumber(x), spec.serial) != 1)
    return OpenSslError("serial");
  if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == nullptr)
    return OpenSslError("notBefore");
  if (X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600) == nullptr)
    return OpenSslError("notAfter");
  if (X509_set_pubkey(x, key) != 1)
    return OpenSslError("X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  if (X509_NAME_add_entry_by_txt(
          name, "O", MBSTRING_ASC,
          reinterpret_cast<const unsigned char*>("carelog tests"), -1, -1,
          0) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_ASC,
          reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
          -1, 0) != 1) {
    return OpenSslError("subject name");
  }
  if (X509_set_issuer_name(
          x, issuer != nullptr ? X509_get_subject_name(issuer) : name) != 1) {
    return OpenSslError("issuer name");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
  if (auto s =
          AddExtension(x, &ctx, NID_basic_constraints,
                       spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
      !s.ok()) {
    return s;
  }
  if (auto s =
          AddExtension(x, &ctx, NID_key_usage,
                       spec.is_ca ? "critical,keyCertSign,cRLSign"
                                  : "critical,digitalSignature,keyAgreement");
      !s.ok()) {
    return s;
  }
  if (auto s = AddExtension(x, &ctx, NID_subject_key_identifier, "hash");
      !s.ok())
    return s;
  if (auto s =
          AddExtension(x, &ctx, NID_authority_key_identifier, "keyid:always");
      !s.ok())
    return s;
  if (!spec.extended_key_usage.empty()) {
    if (auto s =
            AddExtension(x, &ctx, NID_ext_key_usage, spec.extended_key_usage);
        !s.ok())
      return s;
  }
  if (!spec.subject_alt_name.empty()) {
    if (auto s =
            AddExtension(x, &ctx, NID_subject_alt_name, spec.subject_alt_name);
        !s.ok())
      return s;
  }
  if (X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) <= 0)
    return OpenSslError("X509_sign");
  return cert;
}

absl::StatusOr<std::string> BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr)
    return OpenSslError("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return OpenSslError("PEM_write_bio_X509");
  return BioText(bio.get());
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                       nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  return BioText(bio.get());
}

}  // namespace

absl::StatusOr<TestPki> MakeTestPki() {
  TestPki pki;
  auto ca_key = NewP256Key();
  auto rogue_ca_key = NewP256Key();
  auto server_key = NewP256Key();
  auto client_key = NewP256Key();
  auto rogue_key = NewP256Key();
  for (const auto* k :
       {&ca_key, &rogue_ca_key, &server_key, &client_key, &rogue_key}) {
    if (!k->ok())
      return k->status();
  }
  auto ca = MakeCert({"carelog test CA", true, "", "", 1}, ca_key->get(),
                     nullptr, nullptr);
  if (!ca.ok())
    return ca.status();
  auto rogue_ca = MakeCert({"carelog test CA", true, "", "", 1},
                           rogue_ca_key->get(), nullptr, nullptr);
  if (!rogue_ca.ok())
    return rogue_ca.status();
  auto server = MakeCert(
      {"localhost", false, "serverAuth", "DNS:localhost,IP:127.0.0.1", 2},
      server_key->get(), ca->get(), ca_key->get());
  if (!server.ok())
    return server.status();
  auto client = MakeCert({kClientCommonName, false, "clientAuth", "", 3},
                         client_key->get(), ca->get(), ca_key->get());
  if (!client.ok())
    return client.status();
  auto rogue = MakeCert({kClientCommonName, false, "clientAuth", "", 3},
                        rogue_key->get(), rogue_ca->get(), rogue_ca_key->get());
  if (!rogue.ok())
    return rogue.status();

  const std::vector<std::pair<std::string*, absl::StatusOr<std::string>>> pems =
      {{&pki.ca_cert, CertPem(ca->get())},
       {&pki.rogue_ca_cert, CertPem(rogue_ca->get())},
       {&pki.server_cert, CertPem(server->get())},
       {&pki.server_key, KeyPem(server_key->get())},
       {&pki.client_cert, CertPem(client->get())},
       {&pki.client_key, KeyPem(client_key->get())},
       {&pki.rogue_client_cert, CertPem(rogue->get())},
       {&pki.rogue_client_key, KeyPem(rogue_key->get())}};
  for (const auto& [out, pem] : pems) {
    if (!pem.ok())
      return pem.status();
    *out = *pem;
  }
  return pki;
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("cannot create ", path));
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n =
        ::write(fd, contents.data() + done, contents.size() - done);
    if (n <= 0) {
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot write ", path));
    }
    done += static_cast<size_t>(n);
  }
  return ::close(fd) == 0
             ? absl::OkStatus()
             : absl::InternalError(absl::StrCat("cannot close ", path));
}

}  // namespace carelog::integration
