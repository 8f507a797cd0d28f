// tests/integration/request_generator.h — requests built from protobuf
// descriptors alone, for the bad-input sweep: every leaf field of a request
// (scalars, strings, enums, and carelog.v1.Date / carelog.v1.Money as whole
// values, inside nested and repeated messages), a list of plausible valid
// values per leaf (chosen from its type and name) to build a request that
// passes validation, and the invalid values each leaf must refuse.
// Nothing here knows a particular RPC: a new request message is covered as
// soon as it is linked in. Thread-safety: a RequestGenerator belongs to one
// thread.
#ifndef CARELOG_TESTS_INTEGRATION_REQUEST_GENERATOR_H_
#define CARELOG_TESTS_INTEGRATION_REQUEST_GENERATOR_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace carelog::integration {

// A leaf field reached from the request through singular or repeated
// (element 0) message fields.
struct Leaf {
  std::vector<const google::protobuf::FieldDescriptor*> path;
  // Dotted field names, repeated elements without an index:
  // "demographics.date_of_birth", "paperwork.name".
  std::string name;
  const google::protobuf::FieldDescriptor* field() const { return path.back(); }
};

// Sets one leaf of a message to one value.
using LeafSetter =
    std::function<void(google::protobuf::Message* parent,
                       const google::protobuf::FieldDescriptor*)>;

struct LeafValue {
  std::string what;  // e.g. "control character", for failure messages
  LeafSetter set;
};

// Every leaf of `d`, depth first, at most `max_depth` message levels down
// (recursive types stop there).
std::vector<Leaf> Leaves(const google::protobuf::Descriptor* d,
                         int max_depth = 4);

// Values a leaf is tried with while building a valid request, most likely
// first (from the field's type and name).
std::vector<LeafValue> ValidCandidates(const Leaf& leaf);

// Values every field of this shape must refuse whatever the RPC: overlong
// and control-character strings, ids with characters outside the id
// alphabet, unknown enum numbers, impossible dates, negative or overflowing
// money and a malformed currency, negative times.
std::vector<LeafValue> InvalidValues(const Leaf& leaf);

// Sets `leaf` in `root` to `value`, creating the enclosing messages (and
// element 0 of repeated ones) on the way.
void SetLeaf(google::protobuf::Message* root, const Leaf& leaf,
             const LeafValue& value);

// The field path an INVALID_ARGUMENT message names ("a.b[2].c: problem" →
// "a.b.c"); empty if it names none.
std::string NamedPath(absl::string_view message);

// True if an error naming `named` is about `leaf`: the same path, or one of
// them a dotted prefix of the other (a Date leaf reported as
// "x.date_of_birth", a Money leaf as "x.amount.currency").
bool NamesLeaf(absl::string_view named, const Leaf& leaf);

}  // namespace carelog::integration

#endif  // CARELOG_TESTS_INTEGRATION_REQUEST_GENERATOR_H_
