// Standard gRPC health checking and server reflection, spoken by clients
// generated from the official (vendored) protos.
#include <set>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"

#include "src/proto/grpc/health/v1/health.grpc.pb.h"
#include "src/proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/integration/harness.h"

namespace carelog::integration {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;
using ::testing::Contains;
using ::testing::IsSupersetOf;

class ServerHealthTest : public ServerTest {
 protected:
  void SetUp() override { StartServer(); }

  grpc::Status Check(const std::string& service, HealthCheckResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    HealthCheckRequest req;
    req.set_service(service);
    return Health::NewStub(InsecureChannel(server_->port()))
        ->Check(&ctx, req, resp);
  }
};

TEST_F(ServerHealthTest, ServerAndLedgerServiceAreServing) {
  HealthCheckResponse resp;
  grpc::Status s = Check("", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);

  s = Check(kLedgerServiceName, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
}

TEST_F(ServerHealthTest, HealthNeedsNoToken) {
  // Load balancers probe without credentials; health must answer them.
  HealthCheckResponse resp;
  EXPECT_TRUE(Check("", &resp).ok());
}

TEST_F(ServerHealthTest, UnknownServiceIsNotFound) {
  HealthCheckResponse resp;
  EXPECT_EQ(Check("carelog.v1.NoSuchService", &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerHealthTest,
       WatchReportsNotServingOnceShutdownBeginsAndNewCallsFailAfterwards) {
  grpc::ClientContext watch_ctx;
  SetDeadline(&watch_ctx);
  HealthCheckRequest req;
  req.set_service(kLedgerServiceName);
  auto watch =
      Health::NewStub(InsecureChannel(server_->port()))->Watch(&watch_ctx, req);
  HealthCheckResponse msg;
  ASSERT_TRUE(watch->Read(&msg));
  ASSERT_EQ(msg.status(), HealthCheckResponse::SERVING);

  absl::Notification shut_down;
  std::thread shutter([&] {
    server_->Shutdown();
    shut_down.Notify();
  });
  // The open watch sees NOT_SERVING; then it is let go so the drain need not
  // wait for it.
  bool saw_not_serving = false;
  while (watch->Read(&msg)) {
    if (msg.status() == HealthCheckResponse::NOT_SERVING) {
      saw_not_serving = true;
      break;
    }
  }
  watch_ctx.TryCancel();
  (void)watch->Finish();
  EXPECT_TRUE(saw_not_serving);
  EXPECT_TRUE(shut_down.WaitForNotificationWithTimeout(kCallDeadline));
  shutter.join();

  HealthCheckResponse resp;
  const grpc::Status s = Check("", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ServerHealthTest, NewCallsFailOnceShutDown) {
  server_->Shutdown();
  HealthCheckResponse resp;
  EXPECT_EQ(Check("", &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  carelog::v1::LedgerHead head;
  EXPECT_EQ(NewStub()
                ->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

class ServerReflectionTest : public ServerHealthTest {
 protected:
  ServerReflectionResponse Ask(const ServerReflectionRequest& req) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = ServerReflection::NewStub(InsecureChannel(server_->port()))
                      ->ServerReflectionInfo(&ctx);
    ServerReflectionResponse resp;
    EXPECT_TRUE(stream->Write(req));
    EXPECT_TRUE(stream->WritesDone());
    EXPECT_TRUE(stream->Read(&resp));
    ServerReflectionResponse extra;
    while (stream->Read(&extra)) {
    }
    const grpc::Status s = stream->Finish();
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return resp;
  }
};

TEST_F(ServerReflectionTest, ListServicesNamesLedgerHealthAndReflection) {
  ServerReflectionRequest req;
  req.set_list_services("");
  const ServerReflectionResponse resp = Ask(req);
  ASSERT_TRUE(resp.has_list_services_response()) << resp.DebugString();
  std::set<std::string> names;
  for (const auto& s : resp.list_services_response().service())
    names.insert(s.name());
  EXPECT_THAT(
      names,
      IsSupersetOf({std::string(kLedgerServiceName),
                    std::string("grpc.health.v1.Health"),
                    std::string("grpc.reflection.v1alpha.ServerReflection")}));
}

TEST_F(ServerReflectionTest, FileContainingLedgerServiceDescribesIt) {
  ServerReflectionRequest req;
  req.set_file_containing_symbol(kLedgerServiceName);
  const ServerReflectionResponse resp = Ask(req);
  ASSERT_TRUE(resp.has_file_descriptor_response()) << resp.DebugString();
  ASSERT_GE(resp.file_descriptor_response().file_descriptor_proto_size(), 1);
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(
      resp.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.package(), "carelog.v1");
  std::set<std::string> services;
  std::set<std::string> methods;
  for (const auto& svc : file.service()) {
    services.insert(svc.name());
    for (const auto& m : svc.method())
      methods.insert(m.name());
  }
  EXPECT_THAT(services, Contains("LedgerService"));
  EXPECT_THAT(methods,
              IsSupersetOf({"GetHead", "ReadStream", "ReadAll", "Subscribe"}));
}

TEST_F(ServerReflectionTest, UnknownSymbolIsAnErrorResponse) {
  ServerReflectionRequest req;
  req.set_file_containing_symbol("carelog.v1.NoSuchThing");
  const ServerReflectionResponse resp = Ask(req);
  ASSERT_TRUE(resp.has_error_response()) << resp.DebugString();
  EXPECT_EQ(resp.error_response().error_code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

}  // namespace
}  // namespace carelog::integration
