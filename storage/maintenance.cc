#include "storage/maintenance.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rocksdb/write_batch.h"

#include "crypto/key_ring.h"
#include "storage/internal/db.h"
#include "storage/internal/key_store.h"
#include "storage/internal/ledger_access.h"
#include "storage/internal/merkle_tree.h"
#include "storage/internal/ops_util.h"
#include "storage/internal/verifier.h"
#include "storage/record.h"
#include "storage/validation.h"

namespace carelog::storage {

using internal::Db;
using internal::FromRocks;

namespace {

constexpr size_t kSliceEvents = 16384;

absl::StatusOr<std::unique_ptr<Db>> OpenSourceReadOnly(const std::string& dir) {
  internal::DbOpenOptions o;
  o.read_only = true;
  o.create = false;
  auto db = internal::OpenDb(dir, o);
  if (!db.ok()) {
    if (absl::IsDataLoss(db.status()))
      return db.status();
    return absl::FailedPreconditionError(db.status().message());
  }
  if (auto s = internal::CheckLedgerFormat(**db, dir); !s.ok())
    return s;
  return db;
}

absl::StatusOr<StoredEvent> ReadEvent(const Db& db, uint64_t position) {
  std::string v;
  rocksdb::Status s =
      db.db->Get(rocksdb::ReadOptions(), db.events, PositionKey(position), &v);
  if (s.IsNotFound()) {
    return absl::DataLossError(
        absl::StrCat("event at position ", position, " is missing"));
  }
  if (!s.ok())
    return FromRocks(s, "reading event");
  auto ev = DecodeRecord(v);
  if (!ev.ok() || ev->header.position != position) {
    return absl::DataLossError(
        absl::StrCat("event at position ", position, " is malformed"));
  }
  return ev;
}

// Flushes every memtable (so no WAL still holds an overwritten record) and
// rewrites the keys column family down to its last level, dropping every
// overwritten version of a key record from the table files.
absl::Status PurgeKeys(Db& db) {
  if (auto s = db.WritesStopped(); !s.ok())
    return s;
  rocksdb::FlushOptions fo;
  fo.wait = true;
  if (auto s = FromRocks(db.db->Flush(fo, db.handles), "flushing memtables");
      !s.ok()) {
    return s;
  }
  rocksdb::CompactRangeOptions cro;
  cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return FromRocks(db.db->CompactRange(cro, db.keys, nullptr, nullptr),
                   "compacting the keys column family");
}

std::string JsonString(absl::string_view s) {
  return absl::StrCat("\"", absl::CEscape(s), "\"");
}

std::string LegalHoldKey(absl::string_view subject) {
  return absl::StrCat(internal::kMetaLegalHoldPrefix, subject);
}

absl::StatusOr<std::optional<LegalHold>> ReadHold(const Db& db,
                                                  const std::string& subject) {
  std::string v;
  rocksdb::Status s =
      db.db->Get(rocksdb::ReadOptions(), db.meta, LegalHoldKey(subject), &v);
  if (s.IsNotFound())
    return std::optional<LegalHold>();
  if (!s.ok())
    return FromRocks(s, "reading legal hold");
  if (v.size() != 16) {
    return absl::DataLossError(
        absl::StrCat("legal hold record of ", subject, " is malformed"));
  }
  LegalHold h;
  h.subject_id = subject;
  h.set_at_micros = static_cast<int64_t>(GetU64(v.data()));
  h.position = GetU64(v.data() + 8);
  return std::optional<LegalHold>(std::move(h));
}

absl::Status CheckText(const std::string& v, absl::string_view field,
                       size_t max) {
  if (v.empty())
    return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (v.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": at most ", max, " bytes (got ", v.size(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> AppendOpsEvent(
    Ledger& ledger, const std::string& command_id, const std::string& stream,
    const std::string& type, const std::string& subject, std::string payload,
    std::string fingerprint) {
  AppendRequest req;
  req.command_id = command_id;
  req.fingerprint_material = std::move(fingerprint);
  StreamAppend sa;
  sa.stream_id = stream;
  sa.expected = ExpectedVersion::Any();
  NewEvent ev;
  ev.event_type = type;
  ev.key_class = KeyClass::kSystem;
  ev.subject_id = subject;
  ev.payload = std::move(payload);
  sa.events.push_back(std::move(ev));
  req.streams.push_back(std::move(sa));
  auto r = ledger.Append(req);
  if (!r.ok())
    return r.status();
  return r->last_position;
}

}  // namespace

// ---- Restore as of ---------------------------------------------------------

absl::StatusOr<uint64_t> PositionAsOfTime(const std::string& data_dir,
                                          absl::Time t) {
  auto db = OpenSourceReadOnly(data_dir);
  if (!db.ok())
    return db.status();
  auto head = internal::ReadHeadRecord(**db);
  if (!head.ok())
    return head.status();
  const int64_t micros = absl::ToUnixMicros(t);
  // Invariant: positions < lo are <= t (or none), positions > hi are > t.
  uint64_t lo = 1, hi = head->position, best = 0;
  while (lo <= hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto ev = ReadEvent(**db, mid);
    if (!ev.ok())
      return ev.status();
    if (ev->header.recorded_at_micros <= micros) {
      best = mid;
      lo = mid + 1;
    } else {
      if (mid == 1)
        break;
      hi = mid - 1;
    }
  }
  return best;
}

absl::StatusOr<RestoreAsOfResult> RestoreAsOf(const std::string& source_dir,
                                              const std::string& target_dir,
                                              uint64_t position,
                                              const ProgressFn& progress) {
  if (source_dir.empty())
    return absl::InvalidArgumentError("source directory: required");
  if (position == 0)
    return absl::InvalidArgumentError("position: must be >= 1");
  if (auto s = internal::CheckEmptyTarget(target_dir); !s.ok())
    return s;
  auto src_or = OpenSourceReadOnly(source_dir);
  if (!src_or.ok())
    return src_or.status();
  const Db& src = **src_or;
  auto src_head = internal::ReadHeadRecord(src);
  if (!src_head.ok())
    return src_head.status();
  if (position > src_head->position) {
    return absl::InvalidArgumentError(
        absl::StrCat("position: ", position, " is beyond the source head (",
                     src_head->position, ")"));
  }
  // A command is all or nothing: refuse a cut through one.
  {
    auto last = ReadEvent(src, position);
    if (!last.ok())
      return last.status();
    std::string stored;
    rocksdb::Status s = src.db->Get(rocksdb::ReadOptions(), src.commands,
                                    last->header.command_id, &stored);
    if (!s.ok()) {
      return s.IsNotFound()
                 ? absl::DataLossError(absl::StrCat(
                       "the command record of the event at position ", position,
                       " is missing"))
                 : FromRocks(s, "reading command record");
    }
    auto cmd = DecodeCommandRecord(stored, nullptr);
    if (!cmd.ok())
      return cmd.status();
    if (cmd->last_position > position) {
      return absl::FailedPreconditionError(absl::StrCat(
          "position ", position, " falls inside command ",
          last->header.command_id, " (positions ", cmd->first_position, "..",
          cmd->last_position, "); restore as of ", cmd->first_position - 1,
          " or ", cmd->last_position));
    }
  }

  if (::mkdir(target_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", target_dir, ": ", std::strerror(errno)));
  }
  internal::DbOpenOptions to;
  to.create = true;
  auto dst_or = internal::OpenDb(target_dir, to);
  if (!dst_or.ok())
    return dst_or.status();
  Db& dst = **dst_or;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RestoreAsOfResult result;

  // Events and stream index, verbatim, checking the chain as we go.
  absl::flat_hash_map<std::string, uint64_t> stream_heads;
  {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    ro.readahead_size = 4 << 20;
    std::unique_ptr<rocksdb::Iterator> it(src.db->NewIterator(ro, src.events));
    rocksdb::WriteBatch wb;
    Digest prev{};
    uint64_t expect = 1;
    for (it->Seek(PositionKey(1)); it->Valid() && expect <= position;
         it->Next(), ++expect) {
      absl::string_view value(it->value().data(), it->value().size());
      if (it->key().size() != 8 || GetU64(it->key().data()) != expect) {
        return absl::DataLossError(
            absl::StrCat("source: event at position ", expect, " is missing"));
      }
      auto rv = ParseRecordView(value);
      if (!rv.ok() || rv->position != expect) {
        return absl::DataLossError(absl::StrCat("source: event at position ",
                                                expect, " is malformed"));
      }
      if (!crypto::DigestEquals(
              crypto::ChainHash(prev, rv->header, rv->ciphertext),
              rv->chain_hash)) {
        return absl::DataLossError(
            absl::StrCat("source: chain hash mismatch at position ", expect));
      }
      prev = rv->chain_hash;
      wb.Put(dst.events, PositionKey(expect), it->value());
      wb.Put(dst.streams, StreamEntryKey(rv->stream_id, rv->stream_version),
             PositionKey(expect));
      uint64_t& h = stream_heads[rv->stream_id];
      if (rv->stream_version > h)
        h = rv->stream_version;
      if (wb.Count() >= 2 * kSliceEvents) {
        if (auto s = dst.Write(wo, &wb, "writing events"); !s.ok()) {
          return s;
        }
        wb.Clear();
        if (progress)
          progress(Progress{"copying", "events", expect, position});
      }
    }
    if (!it->status().ok())
      return FromRocks(it->status(), "scanning source events");
    if (expect <= position) {
      return absl::DataLossError(
          absl::StrCat("source: event at position ", expect, " is missing"));
    }
    for (const auto& [stream, version] : stream_heads) {
      std::string v;
      PutU64(&v, version);
      wb.Put(dst.streams, StreamHeadKey(stream), v);
    }
    if (auto s = dst.Write(wo, &wb, "writing events"); !s.ok())
      return s;
    if (progress)
      progress(Progress{"copying", "events", position, position});
    result.events = position;
    result.streams = stream_heads.size();
    result.head = Head{position, prev};
  }

  // Command results of the commands inside 1 … position; every wrapped key
  // (erasures stay erasures); checkpoints of the prefix; legal holds.
  {
    rocksdb::WriteBatch wb;
    auto flush_if_big = [&]() -> absl::Status {
      if (wb.Count() < 4 * kSliceEvents)
        return absl::OkStatus();
      absl::Status s = dst.Write(wo, &wb, "writing indexes");
      wb.Clear();
      return s;
    };
    std::unique_ptr<rocksdb::Iterator> it(
        src.db->NewIterator(rocksdb::ReadOptions(), src.commands));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto cmd = DecodeCommandRecord(
          absl::string_view(it->value().data(), it->value().size()), nullptr);
      if (!cmd.ok())
        return cmd.status();
      if (cmd->last_position == 0 || cmd->last_position > position)
        continue;
      wb.Put(dst.commands, it->key(), it->value());
      ++result.commands;
      if (auto s = flush_if_big(); !s.ok())
        return s;
    }
    if (!it->status().ok())
      return FromRocks(it->status(), "scanning commands");
    it.reset(src.db->NewIterator(rocksdb::ReadOptions(), src.keys));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      wb.Put(dst.keys, it->key(), it->value());
      ++result.keys;
      if (auto s = flush_if_big(); !s.ok())
        return s;
    }
    if (!it->status().ok())
      return FromRocks(it->status(), "scanning keys");
    if (src.checkpoints != nullptr && dst.checkpoints != nullptr) {
      it.reset(src.db->NewIterator(rocksdb::ReadOptions(), src.checkpoints));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        if (it->key().size() != 8 || GetU64(it->key().data()) > position)
          continue;
        wb.Put(dst.checkpoints, it->key(), it->value());
        ++result.checkpoints;
      }
      if (!it->status().ok())
        return FromRocks(it->status(), "scanning checkpoints");
    }
    it.reset(src.db->NewIterator(rocksdb::ReadOptions(), src.meta));
    for (it->Seek(internal::kMetaLegalHoldPrefix);
         it->Valid() && it->key().starts_with(internal::kMetaLegalHoldPrefix);
         it->Next()) {
      wb.Put(dst.meta, it->key(), it->value());
    }
    if (auto s = dst.Write(wo, &wb, "writing indexes"); !s.ok()) {
      return s;
    }
  }

  // The Merkle tree from the copied events, then head and format marker last.
  if (progress)
    progress(Progress{"merkle", "events", 0, position});
  if (auto s = internal::BackfillMerkle(dst, position); !s.ok())
    return s;
  {
    rocksdb::WriteBatch wb;
    wb.Put(dst.meta, internal::kMetaHead, EncodeHead(result.head));
    wb.Put(dst.meta, internal::kMetaRestoredFrom,
           absl::StrCat("source=", source_dir, "\nposition=", position,
                        "\nchain_hash=", crypto::ToHex(result.head.chain_hash),
                        "\nat=",
                        absl::FormatTime(absl::RFC3339_sec, absl::Now(),
                                         absl::UTCTimeZone())));
    wb.Put(dst.meta, internal::kMetaFormat, internal::kFormatValue);
    if (auto s = dst.Write(wo, &wb, "writing head"); !s.ok())
      return s;
  }
  if (progress)
    progress(Progress{"verifying", "events", 0, position});
  VerifyReport v = internal::VerifyRange(dst, 1, 0, nullptr);
  if (!v.status.ok()) {
    return absl::Status(
        v.status.code(),
        absl::StrCat("restored ledger does not verify: ", v.status.message()));
  }
  if (v.verified_head.position != position ||
      !crypto::DigestEquals(v.verified_head.chain_hash,
                            result.head.chain_hash)) {
    return absl::DataLossError("restored head differs from the source");
  }
  if (progress)
    progress(Progress{"verifying", "events", position, position});
  return result;
}

// ---- KEK rotation ----------------------------------------------------------

absl::StatusOr<RotateKekResult> RotateKek(const std::string& data_dir,
                                          const crypto::SecretKey& old_kek,
                                          const crypto::SecretKey& new_kek,
                                          const ProgressFn& progress) {
  if (auto s = crypto::EnsureSodium(); !s.ok())
    return s;
  // Compared through a keyed hash: constant time, and no key bytes copied.
  if (crypto::DigestEquals(crypto::KeyedBlake2b256(old_kek, "kek-compare"),
                           crypto::KeyedBlake2b256(new_kek, "kek-compare")))
    return absl::InvalidArgumentError("new KEK: equals the old KEK");
  internal::DbOpenOptions o;
  o.create = false;
  auto db_or = internal::OpenDb(data_dir, o);
  if (!db_or.ok()) {
    if (absl::IsDataLoss(db_or.status()))
      return db_or.status();
    return absl::FailedPreconditionError(db_or.status().message());
  }
  Db& db = **db_or;
  if (auto s = internal::CheckLedgerFormat(db, data_dir); !s.ok())
    return s;
  uint64_t total = 0;
  db.db->GetIntProperty(db.keys, "rocksdb.estimate-num-keys", &total);

  // Re-running the command after a crash must say where things stand: if
  // the keys already open under the new KEK (and not the old), an earlier
  // run's single batch landed and at most its purge is missing — finish that
  // (it changes no content) and tell the operator to use the new KEK.
  auto opens_under = [&db](const crypto::SecretKey& kek) -> absl::Status {
    internal::RocksKeyStore store(&db);
    auto copy = crypto::SecretKey::FromBytes(kek.data(), kek.size());
    if (!copy.ok())
      return copy.status();
    return crypto::KeyRing::Open(std::move(*copy), &store).status();
  };
  if (absl::Status under_old = opens_under(old_kek);
      absl::IsFailedPrecondition(under_old) && opens_under(new_kek).ok()) {
    if (auto s = PurgeKeys(db); !s.ok())
      return s;
    return absl::InvalidArgumentError(
        "old KEK: the data keys do not unwrap under it but already do under "
        "the new KEK — an earlier rotation wrote its batch (if it was "
        "interrupted, the purge of the old wrapped records is now finished); "
        "nothing was re-wrapped: start carelogd with the new KEK");
  }

  RotateKekResult result;
  rocksdb::WriteBatch wb;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db.db->NewIterator(rocksdb::ReadOptions(), db.keys));
    uint64_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      absl::string_view id(it->key().data(), it->key().size());
      absl::string_view rec(it->value().data(), it->value().size());
      auto out = crypto::RewrapKeyRecord(old_kek, new_kek, id, rec);
      if (absl::IsFailedPrecondition(out.status())) {
        // The wrong old key file is a bad argument, not a bad directory.
        return absl::InvalidArgumentError(
            absl::StrCat("old KEK: ", out.status().message()));
      }
      if (!out.ok())
        return out.status();
      if (*out == rec) {
        ++result.tombstones;
      } else {
        ++result.keys_rewrapped;
      }
      wb.Put(db.keys, it->key(), *out);
      if (progress && (++n % 10000) == 0)
        progress(Progress{"rewrapping", "keys", n, std::max(total, n)});
    }
    if (!it->status().ok())
      return FromRocks(it->status(), "scanning keys");
    if (progress)
      progress(Progress{"rewrapping", "keys", n, n});
  }
  if (result.keys_rewrapped == 0)
    return absl::FailedPreconditionError(
        absl::StrCat("no data keys in ", data_dir));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  // One batch: a crash leaves all keys under the old KEK or all under the new.
  if (auto s = db.Write(wo, &wb, "writing re-wrapped keys"); !s.ok()) {
    return s;
  }
  // The new KEK must open the ring before we call it done.
  if (absl::Status s = opens_under(new_kek); !s.ok()) {
    return absl::InternalError(absl::StrCat(
        "re-wrapped keys do not open under the new KEK: ", s.message()));
  }
  if (progress)
    progress(Progress{"purging", "keys", 0, 1});
  if (auto s = PurgeKeys(db); !s.ok())
    return s;
  if (progress)
    progress(Progress{"purging", "keys", 1, 1});
  return result;
}

// ---- Legal holds -----------------------------------------------------------

absl::StatusOr<LegalHold> SetLegalHold(Ledger& ledger,
                                       const std::string& subject_id,
                                       const std::string& reference,
                                       const std::string& actor) {
  if (auto s = ValidateSubjectId(subject_id, "subject_id", true); !s.ok())
    return s;
  if (auto s = CheckText(reference, "reference", 1024); !s.ok())
    return s;
  Db& db = internal::LedgerAccess::GetDb(ledger);
  auto existing = ReadHold(db, subject_id);
  if (!existing.ok())
    return existing.status();
  if (existing->has_value()) {
    return absl::AlreadyExistsError(
        absl::StrCat("subject ", subject_id, " is already under legal hold"));
  }
  const int64_t now = absl::ToUnixMicros(absl::Now());
  const std::string payload = absl::StrCat(
      "{\"subject_id\":", JsonString(subject_id),
      ",\"reference\":", JsonString(reference),
      ",\"actor\":", JsonString(actor), ",\"at_micros\":", now, "}");
  auto pos = AppendOpsEvent(
      ledger, absl::StrCat("legal-hold-set:", subject_id, ":", now),
      absl::StrCat("legal-hold/", subject_id), kLegalHoldSetEventType,
      subject_id, payload, "");
  if (!pos.ok())
    return pos.status();
  std::string v;
  PutU64(&v, static_cast<uint64_t>(now));
  PutU64(&v, *pos);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = db.Put(wo, db.meta, LegalHoldKey(subject_id), v,
                      "writing legal hold");
      !s.ok()) {
    return s;
  }
  return LegalHold{subject_id, now, *pos};
}

absl::StatusOr<uint64_t> ClearLegalHold(Ledger& ledger,
                                        const std::string& subject_id,
                                        const std::string& reference,
                                        const std::string& actor) {
  if (auto s = ValidateSubjectId(subject_id, "subject_id", true); !s.ok())
    return s;
  if (auto s = CheckText(reference, "reference", 1024); !s.ok())
    return s;
  Db& db = internal::LedgerAccess::GetDb(ledger);
  auto existing = ReadHold(db, subject_id);
  if (!existing.ok())
    return existing.status();
  if (!existing->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("subject ", subject_id, " is not under legal hold"));
  }
  const int64_t now = absl::ToUnixMicros(absl::Now());
  const std::string payload =
      absl::StrCat("{\"subject_id\":", JsonString(subject_id),
                   ",\"reference\":", JsonString(reference),
                   ",\"actor\":", JsonString(actor),
                   ",\"hold_position\":", (*existing)->position,
                   ",\"at_micros\":", now, "}");
  auto pos = AppendOpsEvent(
      ledger, absl::StrCat("legal-hold-clear:", subject_id, ":", now),
      absl::StrCat("legal-hold/", subject_id), kLegalHoldClearedEventType,
      subject_id, payload, "");
  if (!pos.ok())
    return pos.status();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = db.Delete(wo, db.meta, LegalHoldKey(subject_id),
                         "clearing legal hold");
      !s.ok()) {
    return s;
  }
  return *pos;
}

absl::StatusOr<std::optional<LegalHold>> GetLegalHold(
    const Ledger& ledger, const std::string& subject_id) {
  if (auto s = ValidateSubjectId(subject_id, "subject_id", true); !s.ok())
    return s;
  return ReadHold(internal::LedgerAccess::GetDb(ledger), subject_id);
}

// ---- Erasure ---------------------------------------------------------------

absl::StatusOr<ErasureReceipt> EraseSubject(Ledger& ledger,
                                            const ErasureRequest& request) {
  if (auto s = ValidateSubjectId(request.subject_id, "subject_id", true);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckText(request.reason, "reason", 4096); !s.ok())
    return s;
  if (auto s = CheckText(request.basis, "basis", 256); !s.ok())
    return s;
  if (request.actor.size() > 256)
    return absl::InvalidArgumentError("actor: at most 256 bytes");
  Db& db = internal::LedgerAccess::GetDb(ledger);
  auto hold = ReadHold(db, request.subject_id);
  if (!hold.ok())
    return hold.status();
  if (hold->has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "subject ", request.subject_id, " is under legal hold (set at ",
        absl::FormatTime(absl::RFC3339_sec,
                         absl::FromUnixMicros((*hold)->set_at_micros),
                         absl::UTCTimeZone()),
        ", event position ", (*hold)->position,
        "); erasure refused until the hold is cleared"));
  }
  ErasureReceipt receipt;
  receipt.subject_id = request.subject_id;
  auto destroyed = ledger.key_ring().IsDestroyed(request.subject_id);
  if (!destroyed.ok())
    return destroyed.status();
  receipt.already_erased = *destroyed;
  if (!*destroyed) {
    if (auto s = ledger.DestroySubjectKey(request.subject_id); !s.ok()) {
      if (absl::IsNotFound(s)) {
        return absl::NotFoundError(
            absl::StrCat("subject ", request.subject_id,
                         " has no data key (no events about it): nothing "
                         "to erase"));
      }
      return s;
    }
  }
  receipt.erased_at_micros = absl::ToUnixMicros(absl::Now());
  // The payload holds no PHI: the opaque id, the operator's reason and basis
  // and who asked, under the system key. A retry (same subject) is the same
  // command whatever its reason text, so it appends nothing.
  const std::string payload =
      absl::StrCat("{\"subject_id\":", JsonString(request.subject_id),
                   ",\"reason\":", JsonString(request.reason),
                   ",\"basis\":", JsonString(request.basis),
                   ",\"actor\":", JsonString(request.actor),
                   ",\"erased_at_micros\":", receipt.erased_at_micros, "}");
  auto pos =
      AppendOpsEvent(ledger, absl::StrCat("erase-subject:", request.subject_id),
                     absl::StrCat("erasure/", request.subject_id),
                     kErasureEventType, request.subject_id, payload,
                     absl::StrCat("erase-subject/", request.subject_id));
  if (!pos.ok())
    return pos.status();
  receipt.position = *pos;
  if (auto s = PurgeKeys(db); !s.ok())
    return s;
  receipt.purged = true;
  receipt.head = ledger.GetHead();
  if (!ledger.CheckpointVerifierKey().empty()) {
    auto cp = ledger.MakeCheckpoint();
    if (!cp.ok())
      return cp.status();
    receipt.checkpoint = *cp;
  } else if (auto cp = ledger.LatestCheckpoint(); cp.ok()) {
    receipt.checkpoint = *cp;
  }
  receipt.checkpoint_covers_erasure =
      receipt.checkpoint.has_value() &&
      receipt.checkpoint->tree_size >= receipt.position;
  return receipt;
}

}  // namespace carelog::storage
