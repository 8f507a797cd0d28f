#include "crypto/aead.h"

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace carelog::crypto {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;

TEST(AeadTest, SealThenOpenRoundTrips) {
  auto key = SecretKey::Random();
  ASSERT_THAT(key, IsOk());
  Nonce n = RandomNonce();
  std::string ct = Seal(**key, n, "synthetic payload", "header");
  EXPECT_EQ(ct.size(), 17 + kTagBytes);
  auto pt = Open(**key, n, ct, "header");
  ASSERT_THAT(pt, IsOk());
  EXPECT_EQ(*pt, "synthetic payload");
}

TEST(AeadTest, WrongAssociatedDataFailsWithDataLoss) {
  auto key = SecretKey::Random();
  ASSERT_THAT(key, IsOk());
  Nonce n = RandomNonce();
  std::string ct = Seal(**key, n, "x", "header-a");
  EXPECT_THAT(Open(**key, n, ct, "header-b"), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace carelog::crypto
