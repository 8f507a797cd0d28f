#include "services/projections/entity_views.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

#include "carelog/v1/complaints.pb.h"
#include "carelog/v1/scheduling.pb.h"

namespace carelog::services::projections {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

std::string EntityKey(const std::string& id) {
  return absl::StrCat("e/", id);
}
std::string ListKey(const std::string& patient, const std::string& id) {
  return absl::StrCat("s/", patient, "/", id);
}

}  // namespace

std::string TimeKey(int64_t micros) {
  return absl::StrFormat("%016x", micros < 0 ? 0 : micros);
}

std::string DayOf(const Date& d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string DayOfTime(int64_t micros) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

std::string EntityView::IdOfKey(const std::string& key) {
  const size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

absl::StatusOr<std::pair<std::string, std::string>> EntityView::ReadEntity(
    const storage::ProjectionStore& store, crypto::KeyRing& keys,
    const std::string& id) {
  const std::string key = EntityKey(id);
  auto row = store.Get(key);
  if (!row.ok())
    return row.status();
  const size_t nl = row->has_value() ? (*row)->find('\n') : std::string::npos;
  if (nl == std::string::npos)
    return absl::NotFoundError(absl::StrCat(id, " not found"));
  std::string patient = (*row)->substr(0, nl);
  auto plain =
      OpenRow(keys, patient, key, absl::string_view(**row).substr(nl + 1));
  if (absl::IsFailedPrecondition(plain.status()) ||
      absl::IsNotFound(plain.status()))
    return absl::NotFoundError(absl::StrCat(id, " not found"));
  if (!plain.ok())
    return plain.status();
  return std::make_pair(std::move(patient), std::move(*plain));
}

absl::StatusOr<std::optional<std::string>> EntityView::Load(
    ViewTxn& txn, const std::string& id) {
  const std::string key = EntityKey(id);
  auto row = txn.Get(key);
  if (!row.ok())
    return row.status();
  if (!row->has_value())
    return std::optional<std::string>();
  const size_t nl = (*row)->find('\n');
  if (nl == std::string::npos)
    return absl::DataLossError(absl::StrCat("view row ", id, " malformed"));
  auto plain = OpenRow(*keys_, (*row)->substr(0, nl), key,
                       absl::string_view(**row).substr(nl + 1));
  if (!plain.ok())
    return plain.status();
  return std::optional<std::string>(std::move(*plain));
}

absl::Status EntityView::Save(ViewTxn& txn, const std::string& id,
                              const std::string& patient,
                              const std::string& plaintext,
                              const std::set<std::string>& index_keys) {
  const std::string key = EntityKey(id);
  auto sealed = SealRow(*keys_, patient, key, plaintext);
  if (!sealed.ok())
    return sealed.status();
  txn.Put(key, absl::StrCat(patient, "\n", *sealed));
  const std::string list_key = ListKey(patient, id);
  auto old = txn.Get(list_key);
  if (!old.ok())
    return old.status();
  std::string list = absl::StrJoin(index_keys, "\n");
  if (old->has_value() && **old == list)
    return absl::OkStatus();
  if (old->has_value()) {
    for (absl::string_view k : absl::StrSplit(**old, '\n', absl::SkipEmpty())) {
      if (index_keys.count(std::string(k)) == 0)
        txn.Delete(std::string(k));
    }
  }
  for (const auto& k : index_keys)
    txn.Put(k, "");
  txn.Put(list_key, std::move(list));
  return absl::OkStatus();
}

absl::Status EntityView::Erase(const std::string& subject_id, ViewTxn& txn) {
  auto rows = txn.ScanAll(absl::StrCat("s/", subject_id, "/"));
  if (!rows.ok())
    return rows.status();
  for (const auto& [list_key, list] : *rows) {
    for (absl::string_view k : absl::StrSplit(list, '\n', absl::SkipEmpty()))
      txn.Delete(std::string(k));
    txn.Delete(EntityKey(IdOfKey(list_key)));
    txn.Delete(list_key);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- appointments

std::string AppointmentsView::ProviderDayPrefix(const std::string& provider,
                                                const std::string& day) {
  return absl::StrCat("ip/", provider, "/", day, "/");
}

bool AppointmentsView::Wants(const storage::EventHeader& h) const {
  return h.stream_id.rfind("appointment/", 0) == 0;
}

absl::Status AppointmentsView::Apply(const DecodedEvent& e, ViewTxn& txn) {
  const std::string& patient = e.header.subject_id;
  AppointmentRecord rec;
  std::string id;
  if (AppointmentScheduled ev; e.As(&ev)) {
    id = ev.appointment_id();
    rec.set_appointment_id(id);
    rec.set_patient_id(ev.patient_id());
    rec.set_provider_id(ev.provider_id());
    rec.set_location_id(ev.location_id());
    rec.set_department(ev.department());
    *rec.mutable_slot() = ev.slot();
    rec.set_visit_type(ev.visit_type());
    rec.set_notes(ev.notes());
    *rec.mutable_instructions() = ev.instructions();
    rec.set_status(APPOINTMENT_STATUS_SCHEDULED);
  } else {
    // Every other appointment event names appointment_id first.
    AppointmentRescheduled r;
    AppointmentConfirmed c;
    AppointmentCancelled x;
    AppointmentNoShowRecorded n;
    AppointmentCompleted d;
    PreAppointmentInstructionsUpdated u;
    if (e.As(&r))
      id = r.appointment_id();
    else if (e.As(&c))
      id = c.appointment_id();
    else if (e.As(&x))
      id = x.appointment_id();
    else if (e.As(&n))
      id = n.appointment_id();
    else if (e.As(&d))
      id = d.appointment_id();
    else if (e.As(&u))
      id = u.appointment_id();
    else
      return absl::OkStatus();  // another type on the stream: not ours
    auto plain = Load(txn, id);
    if (!plain.ok())
      return plain.status();
    if (!plain->has_value() || !rec.ParseFromString(**plain))
      return absl::FailedPreconditionError(
          absl::StrCat("appointment ", id, " is not in the view"));
    if (e.As(&r)) {
      rec.set_provider_id(r.provider_id());
      rec.set_location_id(r.location_id());
      *rec.mutable_slot() = r.slot();
      rec.set_status(APPOINTMENT_STATUS_SCHEDULED);
    } else if (e.As(&c)) {
      rec.set_status(APPOINTMENT_STATUS_CONFIRMED);
    } else if (e.As(&x)) {
      rec.set_status(APPOINTMENT_STATUS_CANCELLED);
    } else if (e.As(&n)) {
      rec.set_status(APPOINTMENT_STATUS_NO_SHOW);
    } else if (e.As(&d)) {
      rec.set_status(APPOINTMENT_STATUS_COMPLETED);
    } else if (e.As(&u)) {
      *rec.mutable_instructions() = u.instructions();
    }
  }
  if (rec.patient_id() != patient)
    return absl::DataLossError(absl::StrCat("appointment ", id,
                                            " names another patient than its "
                                            "event's subject"));
  rec.set_last_position(e.header.position);
  const int64_t start = rec.slot().start_micros();
  std::set<std::string> keys;
  keys.insert(
      absl::StrCat(ProviderDayPrefix(rec.provider_id(), DayOfTime(start)),
                   TimeKey(start), "/", id));
  if (rec.status() == APPOINTMENT_STATUS_SCHEDULED ||
      rec.status() == APPOINTMENT_STATUS_CONFIRMED)
    keys.insert(absl::StrCat("iu/", TimeKey(start), "/", id));
  if (rec.status() == APPOINTMENT_STATUS_NO_SHOW)
    keys.insert(absl::StrCat("in/", TimeKey(start), "/", id));
  return Save(txn, id, patient, DeterministicBytes(rec), keys);
}

// ---------------------------------------------------------------- complaints

bool ComplaintsView::Wants(const storage::EventHeader& h) const {
  return h.stream_id.rfind("complaint/", 0) == 0;
}

absl::Status ComplaintsView::Apply(const DecodedEvent& e, ViewTxn& txn) {
  const std::string& patient = e.header.subject_id;
  ComplaintRecord rec;
  std::string id;
  if (ComplaintFiled ev; e.As(&ev)) {
    id = ev.complaint_id();
    rec.set_complaint_id(id);
    rec.set_patient_id(ev.patient_id());
    rec.set_category(ev.category());
    rec.set_description(ev.description());
    rec.set_priority(ev.priority());
    rec.set_status(COMPLAINT_STATUS_FILED);
    rec.set_filed_at_micros(ev.filed_at_micros());
    rec.set_response_due_at_micros(ev.response_due_at_micros());
  } else {
    ComplaintAcknowledged a;
    ComplaintAssigned s;
    ComplaintNoteAdded n;
    ComplaintEscalated x;
    ComplaintResolved r;
    ComplaintReopened o;
    if (e.As(&a))
      id = a.complaint_id();
    else if (e.As(&s))
      id = s.complaint_id();
    else if (e.As(&n))
      id = n.complaint_id();
    else if (e.As(&x))
      id = x.complaint_id();
    else if (e.As(&r))
      id = r.complaint_id();
    else if (e.As(&o))
      id = o.complaint_id();
    else
      return absl::OkStatus();
    auto plain = Load(txn, id);
    if (!plain.ok())
      return plain.status();
    if (!plain->has_value() || !rec.ParseFromString(**plain))
      return absl::FailedPreconditionError(
          absl::StrCat("complaint ", id, " is not in the view"));
    if (e.As(&a)) {
      rec.set_status(COMPLAINT_STATUS_ACKNOWLEDGED);
      rec.set_acknowledged(true);
      if (a.overdue())
        rec.set_response_breached(true);
    } else if (e.As(&s)) {
      rec.set_assignee_id(s.assignee_id());
    } else if (e.As(&n)) {
      rec.set_notes(rec.notes() + 1);
    } else if (e.As(&x)) {
      rec.set_escalation_level(x.level());
    } else if (e.As(&r)) {
      rec.set_status(COMPLAINT_STATUS_RESOLVED);
      rec.set_resolution(r.resolution());
    } else if (e.As(&o)) {
      rec.set_status(COMPLAINT_STATUS_REOPENED);
    }
  }
  if (rec.patient_id() != patient)
    return absl::DataLossError(absl::StrCat(
        "complaint ", id, " names another patient than its event's subject"));
  rec.set_last_position(e.header.position);
  std::set<std::string> keys;
  keys.insert(absl::StrCat("is/", static_cast<int>(rec.status()), "/",
                           TimeKey(rec.filed_at_micros()), "/", id));
  if (rec.status() != COMPLAINT_STATUS_RESOLVED) {
    if (!rec.assignee_id().empty())
      keys.insert(absl::StrCat("ia/", rec.assignee_id(), "/", id));
    keys.insert(absl::StrCat("ip/", static_cast<int>(rec.priority()), "/",
                             TimeKey(rec.response_due_at_micros()), "/", id));
    if (!rec.acknowledged())
      keys.insert(
          absl::StrCat("id/", TimeKey(rec.response_due_at_micros()), "/", id));
  }
  return Save(txn, id, patient, DeterministicBytes(rec), keys);
}

}  // namespace carelog::services::projections
