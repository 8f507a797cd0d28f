#include "ops/carelogctl/verify_online.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "crypto/merkle.h"
#include "storage/record.h"

namespace carelog::ctl {

namespace {

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok())
    return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

class GrpcProofClient final : public ProofClient {
 public:
  GrpcProofClient(std::shared_ptr<grpc::Channel> channel,
                  std::function<absl::Status(grpc::ClientContext*)> prepare)
      : stub_(carelog::v1::VerifiableLedgerService::NewStub(channel)),
        prepare_(std::move(prepare)) {}

  absl::StatusOr<carelog::v1::Checkpoint> GetCheckpoint(
      uint64_t tree_size) override {
    carelog::v1::GetCheckpointRequest req;
    req.set_tree_size(tree_size);
    carelog::v1::Checkpoint resp;
    return Call(
        "GetCheckpoint",
        [&](grpc::ClientContext* c) {
          return stub_->GetCheckpoint(c, req, &resp);
        },
        &resp);
  }
  absl::StatusOr<carelog::v1::Checkpoint> MakeCheckpoint() override {
    carelog::v1::MakeCheckpointRequest req;
    carelog::v1::Checkpoint resp;
    return Call(
        "MakeCheckpoint",
        [&](grpc::ClientContext* c) {
          return stub_->MakeCheckpoint(c, req, &resp);
        },
        &resp);
  }
  absl::StatusOr<carelog::v1::ConsistencyProof> GetConsistencyProof(
      uint64_t old_size, uint64_t new_size) override {
    carelog::v1::GetConsistencyProofRequest req;
    req.set_old_size(old_size);
    req.set_new_size(new_size);
    carelog::v1::ConsistencyProof resp;
    return Call(
        "GetConsistencyProof",
        [&](grpc::ClientContext* c) {
          return stub_->GetConsistencyProof(c, req, &resp);
        },
        &resp);
  }
  absl::StatusOr<carelog::v1::VerifiedEvent> GetVerifiedEvent(
      uint64_t position, uint64_t tree_size) override {
    carelog::v1::GetVerifiedEventRequest req;
    req.set_position(position);
    req.set_tree_size(tree_size);
    carelog::v1::VerifiedEvent resp;
    return Call(
        "GetVerifiedEvent",
        [&](grpc::ClientContext* c) {
          return stub_->GetVerifiedEvent(c, req, &resp);
        },
        &resp);
  }

 private:
  template <typename Resp>
  absl::StatusOr<Resp> Call(
      absl::string_view what,
      const std::function<grpc::Status(grpc::ClientContext*)>& rpc,
      Resp* resp) {
    grpc::ClientContext ctx;
    if (auto s = prepare_(&ctx); !s.ok())
      return s;
    if (auto s = FromGrpc(rpc(&ctx), what); !s.ok())
      return s;
    return std::move(*resp);
  }

  std::unique_ptr<carelog::v1::VerifiableLedgerService::Stub> stub_;
  std::function<absl::Status(grpc::ClientContext*)> prepare_;
};

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteStateFile(const std::string& path, const std::string& note) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << note;
    out.flush();
    if (!out)
      return absl::UnavailableError(
          absl::StrCat("cannot write trusted state ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot replace trusted state ", path));
  }
  return absl::OkStatus();
}

std::string Hex(const crypto::Digest& d) {
  return crypto::ToHex(d);
}

// Re-labels a failure with the check that failed.
absl::Status Failed(absl::StatusCode code, absl::string_view check,
                    absl::string_view detail) {
  return absl::Status(code, absl::StrCat(check, ": ", detail));
}

}  // namespace

std::unique_ptr<ProofClient> NewGrpcProofClient(
    std::shared_ptr<grpc::Channel> channel,
    std::function<absl::Status(grpc::ClientContext*)> prepare) {
  return std::make_unique<GrpcProofClient>(std::move(channel),
                                           std::move(prepare));
}

absl::StatusOr<crypto::NoteVerifier> LoadPinnedKey(
    const std::string& key_or_file) {
  auto direct = crypto::ParseNoteVerifierKey(key_or_file);
  if (direct.ok())
    return direct;
  auto text = ReadWholeFile(key_or_file);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--checkpoint-key: neither a verifier key nor a readable file (",
        direct.status().message(), ")"));
  }
  auto fromfile =
      crypto::ParseNoteVerifierKey(absl::StripAsciiWhitespace(*text));
  if (!fromfile.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--checkpoint-key: ", key_or_file, ": ", fromfile.status().message()));
  }
  return fromfile;
}

absl::StatusOr<OnlineVerifyResult> VerifyOnline(ProofClient& client,
                                                const OnlineVerifyOptions& o) {
  OnlineVerifyResult r;
  // 1. The trusted state: our own earlier verdict, still checked against the
  // pinned key (a state file edited by someone else is refused).
  absl::StatusOr<storage::SignedCheckpoint> trusted =
      absl::NotFoundError("none");
  if (!o.state_file.empty()) {
    auto text = ReadWholeFile(o.state_file);
    if (text.ok()) {
      trusted = storage::OpenCheckpoint(*text, o.key);
      if (!trusted.ok()) {
        return Failed(
            absl::StatusCode::kFailedPrecondition, "trusted state",
            absl::StrCat(o.state_file,
                         " is not a checkpoint signed by the pinned key (",
                         trusted.status().message(), ")"));
      }
      r.had_state = true;
      r.trusted_size = trusted->tree_size;
      r.lines.push_back(absl::StrCat("trusted state: tree size ",
                                     trusted->tree_size, " root ",
                                     Hex(trusted->root)));
    } else {
      r.lines.push_back(absl::StrCat("trusted state: none yet (", o.state_file,
                                     " will be created)"));
    }
  }

  // 2. The server's latest checkpoint, verified with the pinned key.
  if (o.make_checkpoint) {
    auto made = client.MakeCheckpoint();
    if (!made.ok())
      return made.status();
  }
  auto latest = client.GetCheckpoint(0);
  if (!latest.ok())
    return latest.status();
  auto cp = storage::OpenCheckpoint(latest->note(), o.key);
  if (!cp.ok()) {
    return Failed(cp.status().code() == absl::StatusCode::kInvalidArgument
                      ? absl::StatusCode::kDataLoss
                      : cp.status().code(),
                  "server checkpoint signature", cp.status().message());
  }
  r.lines.push_back(absl::StrCat("checkpoint signature: OK (", o.key.name,
                                 ", tree size ", cp->tree_size, ", root ",
                                 Hex(cp->root), ")"));

  // 3. It must extend what we trusted.
  if (r.had_state) {
    if (cp->tree_size < trusted->tree_size) {
      return Failed(absl::StatusCode::kDataLoss, "consistency",
                    absl::StrCat("the server's latest checkpoint (tree size ",
                                 cp->tree_size,
                                 ") is older than the trusted one (tree size ",
                                 trusted->tree_size, "): rollback or fork"));
    }
    if (cp->tree_size == trusted->tree_size) {
      if (!crypto::DigestEquals(cp->root, trusted->root) ||
          !crypto::DigestEquals(cp->chain_head, trusted->chain_head)) {
        return Failed(
            absl::StatusCode::kDataLoss, "consistency",
            absl::StrCat("two different signed checkpoints for tree size ",
                         cp->tree_size, ": fork"));
      }
      r.lines.push_back(
          "consistency: same tree size as the trusted state, same root");
    } else {
      auto proof =
          client.GetConsistencyProof(trusted->tree_size, cp->tree_size);
      if (!proof.ok())
        return proof.status();
      if (proof->old_size() != trusted->tree_size ||
          proof->new_size() != cp->tree_size) {
        return Failed(
            absl::StatusCode::kDataLoss, "consistency proof",
            absl::StrCat("server answered for sizes ", proof->old_size(), " → ",
                         proof->new_size(), ", asked ", trusted->tree_size,
                         " → ", cp->tree_size));
      }
      auto hashes = crypto::DigestsFromBytes(
          {proof->hashes().begin(), proof->hashes().end()}, "hashes");
      if (!hashes.ok())
        return Failed(absl::StatusCode::kDataLoss, "consistency proof",
                      hashes.status().message());
      if (auto s = crypto::VerifyConsistency(trusted->tree_size, cp->tree_size,
                                             *hashes, trusted->root, cp->root);
          !s.ok()) {
        return Failed(absl::StatusCode::kDataLoss,
                      absl::StrCat("consistency proof ", trusted->tree_size,
                                   " → ", cp->tree_size),
                      s.message());
      }
      r.lines.push_back(absl::StrCat("consistency: tree size ",
                                     trusted->tree_size, " → ", cp->tree_size,
                                     " OK (", hashes->size(), " hashes)"));
    }
  }

  // 4. The requested events are in the verified tree.
  for (uint64_t position : o.positions) {
    const std::string check = absl::StrCat("inclusion of position ", position);
    if (position == 0 || position > cp->tree_size) {
      return Failed(
          absl::StatusCode::kInvalidArgument, check,
          absl::StrCat("not covered by the verified checkpoint (tree size ",
                       cp->tree_size, "); use --make-checkpoint"));
    }
    auto ev = client.GetVerifiedEvent(position, cp->tree_size);
    if (!ev.ok())
      return ev.status();
    const auto& p = ev->proof();
    if (p.tree_size() != cp->tree_size || p.leaf_index() != position - 1) {
      return Failed(
          absl::StatusCode::kDataLoss, check,
          absl::StrCat("proof is for leaf ", p.leaf_index(), " in tree size ",
                       p.tree_size(), ", asked leaf ", position - 1,
                       " in tree size ", cp->tree_size));
    }
    auto record = storage::ParseRecordView(ev->stored_record());
    if (!record.ok())
      return Failed(absl::StatusCode::kDataLoss, check,
                    record.status().message());
    if (record->position != position) {
      return Failed(absl::StatusCode::kDataLoss, check,
                    absl::StrCat("the record returned claims position ",
                                 record->position));
    }
    auto hashes = crypto::DigestsFromBytes(
        {p.hashes().begin(), p.hashes().end()}, "hashes");
    if (!hashes.ok())
      return Failed(absl::StatusCode::kDataLoss, check,
                    hashes.status().message());
    const crypto::Digest leaf = crypto::MerkleLeafHash(ev->stored_record());
    if (auto s = crypto::VerifyInclusion(position - 1, cp->tree_size, leaf,
                                         *hashes, cp->root);
        !s.ok()) {
      return Failed(absl::StatusCode::kDataLoss, check, s.message());
    }
    if (position == cp->tree_size &&
        !crypto::DigestEquals(record->chain_hash, cp->chain_head)) {
      return Failed(
          absl::StatusCode::kDataLoss, check,
          "the last event's chain hash differs from the signed chain head");
    }
    r.lines.push_back(absl::StrCat(check, ": OK (leaf ", Hex(leaf), ", ",
                                   hashes->size(), " hashes)"));
  }

  // 5. Advance the trusted state only now.
  if (!o.state_file.empty() &&
      (!r.had_state || cp->tree_size != trusted->tree_size)) {
    if (auto s = WriteStateFile(o.state_file, cp->note); !s.ok())
      return s;
    r.lines.push_back(
        absl::StrCat("trusted state: advanced to tree size ", cp->tree_size));
  }
  r.verified = std::move(*cp);
  return r;
}

}  // namespace carelog::ctl
