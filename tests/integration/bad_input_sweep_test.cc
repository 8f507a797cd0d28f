// The bad-input sweep: every unary RPC of every carelog.v1 service the server
// lists through reflection — found at run time, so services and RPCs added
// later are swept without touching this file — gets, field by field, the
// invalid values its field's type and name call for (request_generator.h).
// Each must be refused with INVALID_ARGUMENT whose message names that field
// and does not echo the value, and must leave the ledger head where it was.
// Requests larger than the server's message limit are refused before any
// handler runs.
//
// How a valid request is found without knowing the RPC: every leaf starts at
// its most plausible valid value; while the server answers INVALID_ARGUMENT
// naming a field, that field moves on to its next candidate. The server's
// own error messages steer the search, so a message naming no field (or a
// field the request does not have) fails the sweep as well.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"

#include "services/server/policy_access.h"
#include "services/server/request_context.h"
#include "src/proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/integration/harness.h"
#include "tests/integration/request_generator.h"
#include "tests/testing/ledger_fixture.h"

namespace carelog::integration {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::Message;
using google::protobuf::MessageFactory;
using google::protobuf::MethodDescriptor;
using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

constexpr int kMaxMessageBytes = 256 << 10;

// Who calls: a role and a purpose of use (the shipped policy's roles).
struct Caller {
  std::string role;
  std::string purpose;
};

std::vector<Caller> Callers() {
  std::vector<Caller> out;
  for (const char* role :
       {"front_desk", "patient_support_specialist", "scheduler", "clinician",
        "nurse", "billing_clerk", "financial_counselor",
        "logistics_coordinator", "complaint_handler", "compliance_officer",
        "security_admin", "ledger-admin", "operator", "ledger-consumer"}) {
    for (const char* purpose :
         {"HOPERAT", "TREAT", "HPAYMT", "CAREMGT", "HSYSADMIN", "HCOMPL"})
      out.push_back({role, purpose});
  }
  return out;
}

class BadInputSweepTest : public ServerTest {
 protected:
  void SetUp() override {
    config_.max_message_bytes = kMaxMessageBytes;
    // The shipped default policy, as carelogd enforces it.
    auto policy = services::LoadAccessPolicy("");
    ASSERT_TRUE(policy.ok()) << policy.status();
    auto server = services::CarelogServer::Start(
        config_, carelog::testing::TestKek(),
        services::JsonLog::File(dir_.Sub("server.log"), "info"), nullptr,
        *policy);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = InsecureChannel(server_->port());
    stub_ = std::make_unique<grpc::GenericStub>(channel_);
  }

  // The carelog.v1 services the running server lists through reflection.
  std::vector<const google::protobuf::ServiceDescriptor*> Services() {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream =
        ServerReflection::NewStub(channel_)->ServerReflectionInfo(&ctx);
    ServerReflectionRequest req;
    req.set_list_services("");
    EXPECT_TRUE(stream->Write(req));
    EXPECT_TRUE(stream->WritesDone());
    ServerReflectionResponse resp;
    EXPECT_TRUE(stream->Read(&resp));
    for (ServerReflectionResponse extra; stream->Read(&extra);) {
    }
    EXPECT_TRUE(stream->Finish().ok());
    std::vector<const google::protobuf::ServiceDescriptor*> out;
    for (const auto& s : resp.list_services_response().service()) {
      if (!absl::StartsWith(s.name(), "carelog."))
        continue;
      const auto* sd =
          DescriptorPool::generated_pool()->FindServiceByName(s.name());
      EXPECT_NE(sd, nullptr) << s.name() << " is served but not linked here";
      if (sd != nullptr)
        out.push_back(sd);
    }
    return out;
  }

  std::string TokenFor(const Caller& c) {
    auto it = tokens_.find(c.role);
    if (it != tokens_.end())
      return it->second;
    TokenOptions o;
    o.subject = absl::StrCat("sweep-", c.role);
    o.roles = {c.role};
    return tokens_[c.role] = Token(o);
  }

  grpc::Status Call(const MethodDescriptor* md, const Message& req,
                    const Caller& who) {
    grpc::ClientContext ctx;
    Authorize(&ctx, TokenFor(who), who.purpose);
    ctx.AddMetadata(services::kReasonHeader, "bad-input sweep");
    const std::string bytes = req.SerializeAsString();
    grpc::Slice slice(bytes);
    grpc::ByteBuffer in(&slice, 1);
    grpc::ByteBuffer out;
    grpc::Status status;
    absl::Notification done;
    stub_->UnaryCall(
        &ctx, absl::StrCat("/", md->service()->full_name(), "/", md->name()),
        grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
          status = std::move(s);
          done.Notify();
        });
    done.WaitForNotification();
    return status;
  }

  uint64_t Head() { return server_->ledger()->GetHead().position; }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  std::map<std::string, std::string> tokens_;
  int next_command_ = 0;
};

// A request of one method with every leaf at its current candidate.
struct RequestModel {
  const Message* prototype = nullptr;
  std::vector<Leaf> leaves;
  std::vector<std::vector<LeafValue>> candidates;
  std::vector<size_t> chosen;

  std::unique_ptr<Message> Build(int* command_counter) const {
    std::unique_ptr<Message> m(prototype->New());
    for (size_t i = 0; i < leaves.size(); ++i)
      SetLeaf(m.get(), leaves[i], candidates[i][chosen[i]]);
    // A fresh command id per call: requests never meet as retries.
    for (const Leaf& l : leaves) {
      if (l.path.size() == 1 && l.name == "command_id")
        m->GetReflection()->SetString(
            m.get(), l.field(), absl::StrCat("sweep-cmd-", ++*command_counter));
    }
    return m;
  }

  // The leaf an error naming `path` is about (exact name first).
  int Find(const std::string& path) const {
    for (size_t i = 0; i < leaves.size(); ++i)
      if (leaves[i].name == path)
        return static_cast<int>(i);
    for (size_t i = 0; i < leaves.size(); ++i)
      if (NamesLeaf(path, leaves[i]))
        return static_cast<int>(i);
    return -1;
  }
};

TEST_F(BadInputSweepTest, EveryFieldOfEveryRpcRefusesInvalidValuesByName) {
  const auto services = Services();
  ASSERT_FALSE(services.empty());
  const std::vector<Caller> callers = Callers();
  int methods_swept = 0, cases = 0;
  std::vector<std::string> skipped;
  for (const auto* sd : services) {
    for (int m = 0; m < sd->method_count(); ++m) {
      const MethodDescriptor* md = sd->method(m);
      if (md->client_streaming() || md->server_streaming()) {
        skipped.push_back(md->full_name());
        continue;
      }
      SCOPED_TRACE(md->full_name());
      RequestModel model;
      model.prototype =
          MessageFactory::generated_factory()->GetPrototype(md->input_type());
      model.leaves = Leaves(md->input_type());
      for (const Leaf& l : model.leaves)
        model.candidates.push_back(ValidCandidates(l));
      model.chosen.assign(model.leaves.size(), 0);

      // Search for a request that passes validation, and a caller it is
      // not refused to (some queries authorize before validating).
      size_t who = 0;
      bool valid = false;
      std::string last;
      for (int attempt = 0; attempt < 400 && !valid; ++attempt) {
        auto req = model.Build(&next_command_);
        const grpc::Status s = Call(md, *req, callers[who]);
        last = absl::StrCat(s.error_code(), " ", s.error_message());
        if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
          const std::string path = NamedPath(s.error_message());
          const int leaf = model.Find(path);
          ASSERT_GE(leaf, 0) << "INVALID_ARGUMENT names no field of the "
                                "request: "
                             << s.error_message();
          ASSERT_LT(++model.chosen[leaf], model.candidates[leaf].size())
              << "no valid value found for " << model.leaves[leaf].name
              << "; last: " << s.error_message();
          continue;
        }
        if ((s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
             s.error_code() == grpc::StatusCode::UNAUTHENTICATED) &&
            who + 1 < callers.size()) {
          ++who;
          continue;
        }
        valid = true;
      }
      ASSERT_TRUE(valid) << "no valid request found; last: " << last;

      ++methods_swept;
      for (size_t i = 0; i < model.leaves.size(); ++i) {
        const Leaf& leaf = model.leaves[i];
        for (const LeafValue& bad : InvalidValues(leaf)) {
          SCOPED_TRACE(absl::StrCat(leaf.name, " = ", bad.what));
          auto req = model.Build(&next_command_);
          SetLeaf(req.get(), leaf, bad);
          const uint64_t before = Head();
          const grpc::Status s = Call(md, *req, callers[who]);
          ++cases;
          EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
              << s.error_message();
          EXPECT_TRUE(NamesLeaf(NamedPath(s.error_message()), leaf))
              << "message: " << s.error_message();
          EXPECT_THAT(s.error_message(),
                      ::testing::Not(::testing::HasSubstr("sweep\x01value")));
          EXPECT_THAT(s.error_message(),
                      ::testing::Not(::testing::HasSubstr("aaaaaaaa")));
          EXPECT_EQ(Head(), before) << "invalid input appended events";
        }
      }
    }
  }
  std::cerr << "bad-input sweep: " << methods_swept << " unary RPCs, " << cases
            << " invalid requests; streaming RPCs not swept: "
            << ::testing::PrintToString(skipped) << "\n";
  EXPECT_GE(methods_swept, 40);
}

TEST_F(BadInputSweepTest, RequestsOverTheMessageLimitAreRefusedUnhandled) {
  const std::string huge(kMaxMessageBytes + 1024, 'a');
  int swept = 0;
  for (const auto* sd : Services()) {
    for (int m = 0; m < sd->method_count(); ++m) {
      const MethodDescriptor* md = sd->method(m);
      if (md->client_streaming() || md->server_streaming())
        continue;
      // An unknown field carries the excess, so every request type (even an
      // empty one) can be made too large.
      std::unique_ptr<Message> req(MessageFactory::generated_factory()
                                       ->GetPrototype(md->input_type())
                                       ->New());
      req->GetReflection()->MutableUnknownFields(req.get())->AddLengthDelimited(
          999, huge);
      SCOPED_TRACE(md->full_name());
      const uint64_t before = Head();
      const grpc::Status s = Call(md, *req, {"front_desk", "HOPERAT"});
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << s.error_message();
      EXPECT_EQ(Head(), before);
      ++swept;
    }
  }
  EXPECT_GE(swept, 40);
}

}  // namespace
}  // namespace carelog::integration
