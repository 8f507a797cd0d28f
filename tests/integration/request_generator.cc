#include "tests/integration/request_generator.h"

#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace carelog::integration {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kDateType[] = "carelog.v1.Date";
constexpr char kMoneyType[] = "carelog.v1.Money";

bool IsCompoundLeaf(const FieldDescriptor* f) {
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE)
    return false;
  const std::string& t = f->message_type()->full_name();
  return t == kDateType || t == kMoneyType;
}

void Collect(const Descriptor* d, std::vector<const FieldDescriptor*>* prefix,
             const std::string& name_prefix, int depth,
             std::vector<Leaf>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_map())
      continue;
    const std::string name = name_prefix.empty()
                                 ? f->name()
                                 : absl::StrCat(name_prefix, ".", f->name());
    prefix->push_back(f);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !IsCompoundLeaf(f)) {
      // google.protobuf.* (Any, Timestamp…) are not request data of ours.
      if (depth > 0 &&
          f->message_type()->file()->package() != "google.protobuf")
        Collect(f->message_type(), prefix, name, depth - 1, out);
    } else {
      out->push_back(Leaf{*prefix, name});
    }
    prefix->pop_back();
  }
}

// The message holding the leaf's field, created on the way (element 0 of
// repeated message fields).
Message* Parent(Message* root, const Leaf& leaf) {
  Message* m = root;
  for (size_t i = 0; i + 1 < leaf.path.size(); ++i) {
    const FieldDescriptor* f = leaf.path[i];
    const Reflection* r = m->GetReflection();
    if (f->is_repeated()) {
      m = r->FieldSize(*m, f) > 0 ? r->MutableRepeatedMessage(m, f, 0)
                                  : r->AddMessage(m, f);
    } else {
      m = r->MutableMessage(m, f);
    }
  }
  return m;
}

LeafValue String(std::string what, std::string v) {
  return {std::move(what), [v](Message* m, const FieldDescriptor* f) {
            const Reflection* r = m->GetReflection();
            if (f->is_repeated()) {
              if (r->FieldSize(*m, f) > 0)
                r->SetRepeatedString(m, f, 0, v);
              else
                r->AddString(m, f, v);
            } else {
              r->SetString(m, f, v);
            }
          }};
}

LeafValue Integer(std::string what, int64_t v) {
  return {std::move(what), [v](Message* m, const FieldDescriptor* f) {
            const Reflection* r = m->GetReflection();
            const bool rep = f->is_repeated();
            switch (f->cpp_type()) {
              case FieldDescriptor::CPPTYPE_INT32:
                rep ? r->AddInt32(m, f, static_cast<int32_t>(v))
                    : r->SetInt32(m, f, static_cast<int32_t>(v));
                break;
              case FieldDescriptor::CPPTYPE_INT64:
                rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
                break;
              case FieldDescriptor::CPPTYPE_UINT32:
                rep ? r->AddUInt32(m, f, static_cast<uint32_t>(v))
                    : r->SetUInt32(m, f, static_cast<uint32_t>(v));
                break;
              case FieldDescriptor::CPPTYPE_UINT64:
                rep ? r->AddUInt64(m, f, static_cast<uint64_t>(v))
                    : r->SetUInt64(m, f, static_cast<uint64_t>(v));
                break;
              case FieldDescriptor::CPPTYPE_BOOL:
                rep ? r->AddBool(m, f, v != 0) : r->SetBool(m, f, v != 0);
                break;
              case FieldDescriptor::CPPTYPE_ENUM:
                rep ? r->AddEnumValue(m, f, static_cast<int>(v))
                    : r->SetEnumValue(m, f, static_cast<int>(v));
                break;
              default:
                break;
            }
          }};
}

// A Date or Money field set to the given parts.
LeafValue Compound(std::string what, int64_t a, int64_t b, int64_t c,
                   std::string currency) {
  return {
      std::move(what), [=](Message* m, const FieldDescriptor* f) {
        const Reflection* r = m->GetReflection();
        Message* v =
            f->is_repeated()
                ? (r->FieldSize(*m, f) > 0 ? r->MutableRepeatedMessage(m, f, 0)
                                           : r->AddMessage(m, f))
                : r->MutableMessage(m, f);
        v->Clear();
        const Descriptor* d = v->GetDescriptor();
        const Reflection* vr = v->GetReflection();
        if (d->full_name() == kDateType) {
          if (a != 0 || b != 0 || c != 0) {
            vr->SetInt32(v, d->FindFieldByName("year"),
                         static_cast<int32_t>(a));
            vr->SetInt32(v, d->FindFieldByName("month"),
                         static_cast<int32_t>(b));
            vr->SetInt32(v, d->FindFieldByName("day"), static_cast<int32_t>(c));
          }
        } else {
          vr->SetInt64(v, d->FindFieldByName("amount_minor"), a);
          vr->SetString(v, d->FindFieldByName("currency"), currency);
        }
      }};
}

LeafValue Date(int y, int m, int d) {
  return Compound(absl::StrCat("date ", y, "-", m, "-", d), y, m, d, "");
}
LeafValue Money(int64_t amount, std::string currency) {
  return Compound(absl::StrCat("money ", amount, " ", currency), amount, 0, 0,
                  std::move(currency));
}

bool IsIdName(const std::string& n) {
  return n == "id" || absl::EndsWith(n, "_id");
}

}  // namespace

std::vector<Leaf> Leaves(const Descriptor* d, int max_depth) {
  std::vector<Leaf> out;
  std::vector<const FieldDescriptor*> prefix;
  Collect(d, &prefix, "", max_depth, &out);
  return out;
}

std::vector<LeafValue> ValidCandidates(const Leaf& leaf) {
  const FieldDescriptor* f = leaf.field();
  const std::string n = absl::AsciiStrToLower(f->name());
  std::vector<LeafValue> out;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::vector<std::pair<std::string, std::string>> order;
      if (IsIdName(n))
        order.push_back({"id", "sweep-0001"});
      if (absl::StrContains(n, "token") || absl::StrContains(n, "cursor"))
        order.push_back({"empty", ""});
      if (n == "currency")
        order.push_back({"currency", "USD"});
      if (absl::StrContains(n, "email"))
        order.push_back({"email", "synthetic.person@example.org"});
      if (absl::StrContains(n, "phone"))
        order.push_back({"phone", "+1-555-0100"});
      if (absl::StrContains(n, "language"))
        order.push_back({"language", "en"});
      if (absl::StrContains(n, "country"))
        order.push_back({"country", "US"});
      if (absl::StrContains(n, "postal"))
        order.push_back({"postal code", "12345"});
      // A server-side path (backups): absolute, and where nothing can be
      // written (/proc), so that a sweep's valid request leaves no files.
      if (absl::EndsWith(n, "_dir"))
        order.push_back({"absolute path", "/proc/carelog-sweep"});
      for (const auto& p : std::vector<std::pair<std::string, std::string>>{
               {"text", "Synthetic text"},
               {"id", "sweep-0001"},
               {"empty", ""},
               {"currency", "USD"},
               {"language", "en"},
               {"country", "US"},
               {"purpose", "TREAT"},
               {"phone", "+1-555-0100"},
               {"email", "synthetic.person@example.org"},
               {"postal code", "12345"},
               {"date", "2030-06-15"},
               {"word", "general"},
               {"policy resource", "billing"}})
        order.push_back(p);
      for (auto& [what, v] : order)
        out.push_back(String(what, v));
      break;
    }
    case FieldDescriptor::CPPTYPE_ENUM:
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        const int v = f->enum_type()->value(i)->number();
        if (v != 0)
          out.push_back(Integer(f->enum_type()->value(i)->name(), v));
      }
      out.push_back(Integer("enum 0", 0));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out.push_back(Integer("false", 0));
      out.push_back(Integer("true", 1));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (f->message_type()->full_name() == kDateType) {
        // Near future first (stays, appointments), then past (births), then
        // further out, then unset; ranges find an order by moving one end.
        const absl::CivilDay today =
            absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
        for (int ahead : {10, 11, 13, 40})
          out.push_back(Date(static_cast<int>((today + ahead).year()),
                             (today + ahead).month(), (today + ahead).day()));
        out.push_back(Date(1980, 2, 29));
        out.push_back(Date(0, 0, 0));
      } else {
        out.push_back(Money(12500, "USD"));
        out.push_back(Money(0, "USD"));
      }
      break;
    default: {
      if (absl::EndsWith(n, "_micros") || absl::EndsWith(n, "_at") ||
          absl::EndsWith(n, "_time")) {
        const int64_t now = absl::ToUnixMicros(absl::Now());
        const int64_t day = int64_t{86400} * 1000000;
        for (int64_t v :
             {now + day, now + 2 * day, now - day, now - 2 * day, int64_t{0}})
          out.push_back(Integer(absl::StrCat("time ", v), v));
      } else {
        for (int64_t v : {0, 1, 10, 100, 1000})
          out.push_back(Integer(absl::StrCat("number ", v), v));
      }
    }
  }
  return out;
}

std::vector<LeafValue> InvalidValues(const Leaf& leaf) {
  const FieldDescriptor* f = leaf.field();
  const std::string n = absl::AsciiStrToLower(f->name());
  std::vector<LeafValue> out;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      out.push_back(
          String("overlong (100000 bytes)", std::string(100000, 'a')));
      out.push_back(String("control character", "sweep\x01value"));
      out.push_back(String("escape sequence", "sweep\x1b[2Jvalue"));
      if (IsIdName(n)) {
        out.push_back(String("id with a space", "sweep 0001"));
      }
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      out.push_back(Integer("unknown enum number 9999", 9999));
      out.push_back(Integer("negative enum number", -7));
      break;
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      out.push_back(Integer("negative", -1));
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT64)
        out.push_back(
            Integer("int64 max", std::numeric_limits<int64_t>::max()));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (f->message_type()->full_name() == kDateType) {
        out.push_back(Date(2023, 13, 1));
        out.push_back(Date(2023, 2, 30));
        out.push_back(Date(99999, 1, 1));
        out.push_back(Date(-1, 1, 1));
      } else {
        out.push_back(Money(-100, "USD"));
        out.push_back(Money(std::numeric_limits<int64_t>::max(), "USD"));
        out.push_back(Money(std::numeric_limits<int64_t>::min(), "USD"));
        out.push_back(Money(100, "usd"));
        out.push_back(Money(100, "US\x01"));
      }
      break;
    default:
      break;  // bool, unsigned: no value is malformed in itself
  }
  return out;
}

void SetLeaf(Message* root, const Leaf& leaf, const LeafValue& value) {
  value.set(Parent(root, leaf), leaf.field());
}

std::string NamedPath(absl::string_view message) {
  const size_t colon = message.find(':');
  if (colon == absl::string_view::npos)
    return "";
  std::string out;
  for (char c : message.substr(0, colon)) {
    if (c == ' ')
      return "";  // prose, not a field path
    out += c;
  }
  // Drop element indices: "a[2].b" → "a.b".
  std::string clean;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '[') {
      while (i < out.size() && out[i] != ']')
        ++i;
      continue;
    }
    clean += out[i];
  }
  return clean;
}

bool NamesLeaf(absl::string_view named, const Leaf& leaf) {
  if (named.empty())
    return false;
  const std::string& n = leaf.name;
  if (named == n)
    return true;
  return (absl::StartsWith(n, named) && n[named.size()] == '.') ||
         (absl::StartsWith(named, n) && named[n.size()] == '.');
}

}  // namespace carelog::integration
