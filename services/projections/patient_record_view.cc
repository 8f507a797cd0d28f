#include "services/projections/patient_record_view.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "carelog/v1/patients.pb.h"
#include "services/patients/patient_aggregate.h"

namespace carelog::services::projections {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

constexpr char kPatientStream[] = "patient/";
constexpr int kMaxCheckIns = 20;

std::string IndexKey(absl::string_view field, const std::string& mac,
                     const std::string& patient_id) {
  return absl::StrCat("i/", field, "/", mac, "/", patient_id);
}

std::string DateString(const Date& d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

int64_t EventTime(const DecodedEvent& e) {
  return e.meta.occurred_at_micros() != 0 ? e.meta.occurred_at_micros()
                                          : e.header.recorded_at_micros;
}

// The index and filter keys a record should have.
std::set<std::string> KeysFor(const crypto::KeyRing& keys,
                              const PatientRecord& r) {
  std::set<std::string> out;
  const std::string& id = r.patient_id();
  const Demographics& d = r.demographics();
  auto add = [&](absl::string_view field, const std::string& v) {
    if (!v.empty())
      out.insert(IndexKey(field, BlindIndex(keys, field, v), id));
  };
  add("name",
      NormaliseText(absl::StrCat(d.given_name(), " ", d.family_name())));
  add("family_name", NormaliseText(d.family_name()));
  if (d.has_date_of_birth())
    add("date_of_birth", DateString(d.date_of_birth()));
  add("mrn", NormaliseId(d.mrn()));
  add("phone", NormaliseDigits(r.contact().phone()));
  if (r.paperwork_missing_size() > 0)
    out.insert(absl::StrCat(PatientRecordView::FilterPrefix(
                                ListPatientsRequest::FILTER_MISSING_PAPERWORK),
                            id));
  for (const auto& ins : r.insurance()) {
    if (ins.verification() != VERIFICATION_RESULT_VERIFIED) {
      out.insert(
          absl::StrCat(PatientRecordView::FilterPrefix(
                           ListPatientsRequest::FILTER_INSURANCE_UNVERIFIED),
                       id));
      break;
    }
  }
  return out;
}

std::string IndexListKey(const std::string& patient_id) {
  return absl::StrCat("x/", patient_id);
}

}  // namespace

std::string PatientRecordView::RecordKey(const std::string& patient_id) {
  return absl::StrCat("p/", patient_id);
}

std::string PatientRecordView::FilterPrefix(ListPatientsRequest::Filter f) {
  switch (f) {
    case ListPatientsRequest::FILTER_MISSING_PAPERWORK:
      return "f/missing_paperwork/";
    case ListPatientsRequest::FILTER_INSURANCE_UNVERIFIED:
      return "f/insurance_unverified/";
    default:
      return "p/";
  }
}

absl::StatusOr<std::string> PatientRecordView::LookupPrefix(
    const crypto::KeyRing& keys, PatientLookupField field,
    const std::string& value) {
  std::string f, v;
  switch (field) {
    case PATIENT_LOOKUP_FIELD_NAME:
      f = "name";
      v = NormaliseText(value);
      break;
    case PATIENT_LOOKUP_FIELD_FAMILY_NAME:
      f = "family_name";
      v = NormaliseText(value);
      break;
    case PATIENT_LOOKUP_FIELD_DATE_OF_BIRTH:
      f = "date_of_birth";
      v = NormaliseText(value);
      break;
    case PATIENT_LOOKUP_FIELD_MRN:
      f = "mrn";
      v = NormaliseId(value);
      break;
    case PATIENT_LOOKUP_FIELD_PHONE:
      f = "phone";
      v = NormaliseDigits(value);
      break;
    default:
      return absl::InvalidArgumentError("field: unknown lookup field");
  }
  if (v.empty() || value.size() > 256)
    return absl::InvalidArgumentError("value: empty or longer than 256 bytes");
  return absl::StrCat("i/", f, "/", BlindIndex(keys, f, v), "/");
}

std::string PatientRecordView::PatientOfIndexKey(const std::string& key) {
  const size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

bool PatientRecordView::Wants(const storage::EventHeader& h) const {
  if (h.stream_id.compare(0, sizeof(kPatientStream) - 1, kPatientStream) != 0)
    return false;
  static const std::set<std::string>* const kTypes = new std::set<std::string>{
      PatientRegistered::descriptor()->full_name(),
      DemographicsUpdated::descriptor()->full_name(),
      InsuranceRecorded::descriptor()->full_name(),
      InsuranceVerificationRecorded::descriptor()->full_name(),
      PatientCheckedIn::descriptor()->full_name(),
      CareTeamMemberAssigned::descriptor()->full_name(),
      CareTeamMemberRemoved::descriptor()->full_name(),
      PatientFlagsSet::descriptor()->full_name(),
      DisclosureRestrictionRecorded::descriptor()->full_name(),
      DisclosureRestrictionLifted::descriptor()->full_name(),
  };
  return kTypes->count(h.event_type) > 0;
}

absl::StatusOr<PatientRecord> PatientRecordView::Read(
    const storage::ProjectionStore& store, crypto::KeyRing& keys,
    const std::string& patient_id) {
  const std::string key = RecordKey(patient_id);
  auto row = store.Get(key);
  if (!row.ok())
    return row.status();
  if (!row->has_value())
    return absl::NotFoundError(
        absl::StrCat("patient ", patient_id, " not found"));
  auto plain = OpenRow(keys, patient_id, key, **row);
  if (absl::IsFailedPrecondition(plain.status()) ||
      absl::IsNotFound(plain.status()))
    return absl::NotFoundError(
        absl::StrCat("patient ", patient_id, " not found"));
  if (!plain.ok())
    return plain.status();
  PatientRecord rec;
  if (!rec.ParseFromString(*plain))
    return absl::DataLossError(
        absl::StrCat("patient record ", patient_id, " does not parse"));
  return rec;
}

absl::Status PatientRecordView::Store(const PatientRecord& rec, ViewTxn& txn) {
  const std::string& id = rec.patient_id();
  const std::string key = RecordKey(id);
  auto sealed = SealRow(*keys_, id, key, DeterministicBytes(rec));
  if (!sealed.ok())
    return sealed.status();
  txn.Put(key, std::move(*sealed));
  const std::set<std::string> want = KeysFor(*keys_, rec);
  std::string list = absl::StrJoin(want, "\n");
  auto old = txn.Get(IndexListKey(id));
  if (!old.ok())
    return old.status();
  // Most events leave the indexes as they were: write only what changed.
  if (old->has_value() && **old == list)
    return absl::OkStatus();
  std::set<std::string> had;
  if (old->has_value()) {
    for (absl::string_view k : absl::StrSplit(**old, '\n', absl::SkipEmpty()))
      had.insert(std::string(k));
  }
  for (const auto& k : had) {
    if (want.count(k) == 0)
      txn.Delete(k);
  }
  for (const auto& k : want) {
    if (had.count(k) == 0)
      txn.Put(k, "");
  }
  txn.Put(IndexListKey(id), std::move(list));
  return absl::OkStatus();
}

absl::Status PatientRecordView::Erase(const std::string& subject_id,
                                      ViewTxn& txn) {
  pending_.erase(subject_id);
  auto old = txn.Get(IndexListKey(subject_id));
  if (!old.ok())
    return old.status();
  if (old->has_value()) {
    for (absl::string_view k : absl::StrSplit(**old, '\n', absl::SkipEmpty()))
      txn.Delete(std::string(k));
  }
  txn.Delete(IndexListKey(subject_id));
  txn.Delete(RecordKey(subject_id));
  return absl::OkStatus();
}

absl::Status PatientRecordView::Flush(ViewTxn& txn) {
  std::map<std::string, PatientRecord> pending;
  pending.swap(pending_);
  for (const auto& [id, rec] : pending) {
    absl::Status s = Store(rec, txn);
    // Erased after its events were decoded: the key is gone, so are the rows.
    if (absl::IsFailedPrecondition(s)) {
      auto destroyed = keys_->IsDestroyed(id);
      if (destroyed.ok() && *destroyed)
        s = Erase(id, txn);
    }
    if (!s.ok())
      return s;
  }
  return absl::OkStatus();
}

absl::Status PatientRecordView::Apply(const DecodedEvent& e, ViewTxn& txn) {
  const std::string& subject = e.header.subject_id;
  PatientRecord fresh;
  PatientRecord* rec_ptr = &fresh;
  if (PatientRegistered ev; e.As(&ev)) {
    fresh.set_patient_id(ev.patient_id());
    *fresh.mutable_demographics() = ev.demographics();
    *fresh.mutable_contact() = ev.contact();
    fresh.set_preferred_language(ev.preferred_language());
    *fresh.mutable_emergency_contact() = ev.emergency_contact();
    fresh.set_registered_at_micros(EventTime(e));
  } else {
    auto cached = pending_.find(subject);
    if (cached != pending_.end()) {
      rec_ptr = &cached->second;
    } else {
      const std::string key = RecordKey(subject);
      auto row = txn.Get(key);
      if (!row.ok())
        return row.status();
      if (!row->has_value())
        return absl::FailedPreconditionError(absl::StrCat(
            "patient ", subject, " has no record (event before registration)"));
      auto plain = OpenRow(*keys_, subject, key, **row);
      if (!plain.ok())
        return plain.status();
      if (!fresh.ParseFromString(*plain))
        return absl::DataLossError(
            absl::StrCat("patient record ", subject, " does not parse"));
    }
    PatientRecord& rec = *rec_ptr;
    if (DemographicsUpdated ev; e.As(&ev)) {
      *rec.mutable_demographics() = ev.demographics();
      *rec.mutable_contact() = ev.contact();
      rec.set_preferred_language(ev.preferred_language());
      *rec.mutable_emergency_contact() = ev.emergency_contact();
    } else if (InsuranceRecorded ev; e.As(&ev)) {
      InsuranceStatus* slot = nullptr;
      for (auto& i : *rec.mutable_insurance())
        if (i.insurance_id() == ev.insurance_id())
          slot = &i;
      if (slot == nullptr) {
        slot = rec.add_insurance();
        slot->set_insurance_id(ev.insurance_id());
      }
      *slot->mutable_insurance() = ev.insurance();
      slot->set_verification(VERIFICATION_RESULT_UNSPECIFIED);
      slot->clear_failure_reason();
      slot->set_recorded_at_micros(EventTime(e));
    } else if (InsuranceVerificationRecorded ev; e.As(&ev)) {
      InsuranceStatus* slot = nullptr;
      for (auto& i : *rec.mutable_insurance())
        if (i.insurance_id() == ev.insurance_id())
          slot = &i;
      if (slot == nullptr)
        return absl::FailedPreconditionError(
            absl::StrCat("insurance ", ev.insurance_id(), " of patient ",
                         subject, " is not in the view"));
      slot->set_verification(ev.result());
      slot->set_failure_reason(ev.failure_reason());
      slot->set_verified_at_micros(EventTime(e));
    } else if (PatientCheckedIn ev; e.As(&ev)) {
      CheckInSummary* c = rec.add_check_ins();
      c->set_check_in_id(ev.check_in_id());
      c->set_appointment_id(ev.appointment_id());
      c->set_checked_in_at_micros(EventTime(e));
      c->set_identity_verified(ev.identity_verified());
      c->set_insurance_id(ev.insurance_id());
      c->set_insurance_verified(ev.insurance_verified());
      *c->mutable_paperwork_complete() = ev.paperwork_complete();
      *c->mutable_paperwork_missing() = ev.paperwork_missing();
      *rec.mutable_paperwork_missing() = ev.paperwork_missing();
      // The record keeps recent check-ins; the log holds them all.
      if (rec.check_ins_size() > kMaxCheckIns)
        rec.mutable_check_ins()->DeleteSubrange(
            0, rec.check_ins_size() - kMaxCheckIns);
    } else if (CareTeamMemberAssigned ev; e.As(&ev)) {
      auto* team = rec.mutable_care_team();
      auto it = std::find_if(team->begin(), team->end(), [&](const auto& m) {
        return m.member_id() == ev.member_id();
      });
      if (it != team->end()) {
        it->set_role(ev.role());
      } else {
        CareTeamEntry* m = team->Add();
        m->set_member_id(ev.member_id());
        m->set_role(ev.role());
        std::sort(team->begin(), team->end(), [](const auto& a, const auto& b) {
          return a.member_id() < b.member_id();
        });
      }
    } else if (CareTeamMemberRemoved ev; e.As(&ev)) {
      auto* team = rec.mutable_care_team();
      for (int i = 0; i < team->size(); ++i) {
        if (team->Get(i).member_id() == ev.member_id()) {
          team->DeleteSubrange(i, 1);
          break;
        }
      }
    } else if (PatientFlagsSet ev; e.As(&ev)) {
      *rec.mutable_flags() = ev.flags();
    } else if (DisclosureRestrictionRecorded ev; e.As(&ev)) {
      *rec.add_restrictions() = ev.restriction();
    } else if (DisclosureRestrictionLifted ev; e.As(&ev)) {
      RemoveRestriction(rec.mutable_restrictions(), ev.restriction_id());
    } else {
      return absl::DataLossError(absl::StrCat(
          "patients view cannot apply event type ", e.header.event_type));
    }
  }
  PatientRecord& rec = *rec_ptr;
  if (rec.patient_id() != subject)
    return absl::DataLossError(absl::StrCat("event names patient ",
                                            rec.patient_id(),
                                            " but its subject is ", subject));
  rec.set_updated_at_micros(EventTime(e));
  rec.set_last_position(e.header.position);
  if (rec_ptr == &fresh)
    pending_[subject] = std::move(fresh);
  return absl::OkStatus();
}

}  // namespace carelog::services::projections
