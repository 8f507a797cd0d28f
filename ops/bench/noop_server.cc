// ops/bench/noop_server.cc — carelog-noop-server: the transport ceiling for
// carelog-loadbench. It serves the same RPCs the benchmark drives
// (MessagingService.SendMessage, QueryService.GetPatientRecord) with
// handlers that do nothing: no auth, no policy, no ledger. The reply has
// the same shape as carelogd's (a command result; a small synthetic
// patient record). Loopback only; stops on SIGINT/SIGTERM.
// Usage: carelog-noop-server --listen 127.0.0.1:PORT
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"

#include "carelog/v1/messaging.grpc.pb.h"
#include "carelog/v1/queries.grpc.pb.h"

namespace {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

class NoopMessaging final : public MessagingService::CallbackService {
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx,
                                        const SendMessageRequest* req,
                                        SendMessageReply* reply) override {
    reply->mutable_result()->set_position(1);
    reply->set_message_id("msg-00000000000000000000000000000000");
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

class NoopQueries final : public QueryService::CallbackService {
  grpc::ServerUnaryReactor* GetPatientRecord(grpc::CallbackServerContext* ctx,
                                             const GetPatientRecordRequest* req,
                                             PatientRecord* reply) override {
    reply->set_patient_id(req->patient_id());
    auto* d = reply->mutable_demographics();
    d->set_given_name("Synthia");
    d->set_family_name("Benchperson");
    d->mutable_date_of_birth()->set_year(1980);
    d->mutable_date_of_birth()->set_month(2);
    d->mutable_date_of_birth()->set_day(29);
    d->set_gender(ADMINISTRATIVE_GENDER_FEMALE);
    auto* t = reply->add_care_team();
    t->set_member_id("dr-bench");
    t->set_role(CARE_TEAM_ROLE_PRIMARY_CLINICIAN);
    reply->set_registered_at_micros(1767225600000000);
    reply->set_updated_at_micros(1767225600000000);
    reply->set_last_position(1);
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"carelog-noop-server — no-op handlers: the transport ceiling"};
  std::string listen = "127.0.0.1:0";
  app.add_option("--listen", listen, "host:port (loopback)");
  CLI11_PARSE(app, argc, argv);
  if (listen.rfind("127.0.0.1:", 0) != 0) {
    std::fprintf(stderr, "--listen must be 127.0.0.1:PORT\n");
    return 2;
  }
  // Block the stop signals before gRPC starts its threads (they inherit the
  // mask); main waits for one below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  NoopMessaging messaging;
  NoopQueries queries;
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&messaging);
  b.RegisterService(&queries);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::printf("listening 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server->Shutdown();
  return 0;
}
