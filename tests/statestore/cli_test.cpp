// cmap-statestore's command line and its verify: argument errors, a completed run and its
// resumption, verify catching a tampered store, and a store refusing other parameters.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmap/durable_map.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "statestore.hpp"

namespace {

namespace fs = std::filesystem;
namespace ss = cmap_statestore;
using statestore_test::run_tool;
using store = cmap::durable_map<std::string, std::string>;

class statestore_cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("cmap-statestore-cli-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string dir() const { return dir_.string(); }

  // A completed run of 3 partitions over 50 users up to `events`, checked to succeed.
  void complete_run(std::uint64_t events) {
    const auto r = run_tool({"run", dir(), "--events", std::to_string(events), "--users", "50",
                             "--partitions", "3", "--batch", "64", "--checkpoint-every", "2000",
                             "--seed", "7"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  fs::path dir_;
};

// The argument is checked before anything is opened: a usage error creates no store.
void expect_usage_error(const std::vector<std::string>& args, const std::string& named,
                        const fs::path& dir) {
  const auto r = run_tool(args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(named), std::string::npos)
      << "the message should name " << named << ":\n"
      << r.output;
  EXPECT_FALSE(fs::exists(dir)) << "a usage error created " << dir;
}

TEST_F(statestore_cli, bad_arguments_exit_2_naming_the_argument) {
  expect_usage_error({"run", dir(), "--users", "abc"}, "--users: 'abc'", dir_);
  expect_usage_error({"run", dir(), "--events", "-5"}, "--events: '-5'", dir_);
  expect_usage_error({"run", dir(), "--batch", "12x"}, "--batch: '12x'", dir_);
  expect_usage_error({"run", dir(), "--batch", "0"}, "--batch", dir_);
  expect_usage_error({"run", dir(), "--seed", "99999999999999999999999"}, "--seed", dir_);
  expect_usage_error({"run", dir(), "--sync", "sometimes"}, "--sync: 'sometimes'", dir_);
  expect_usage_error({"run", dir(), "--checkpoint-every"}, "--checkpoint-every needs a value",
                     dir_);
  expect_usage_error({"run", dir(), "--frobnicate", "3"}, "--frobnicate", dir_);
  expect_usage_error({"verify", dir(), "--events", "10"}, "--events", dir_);
  expect_usage_error({"verify", dir(), "--print-commits"}, "--print-commits", dir_);
  expect_usage_error({"run", dir(), "--users", "3", "--partitions", "4"}, "--users: 3", dir_);
  expect_usage_error({"run", dir(), "--partitions", "0"}, "--partitions: 0", dir_);
  expect_usage_error({"run", dir(), "extra"}, "unexpected argument 'extra'", dir_);
  expect_usage_error({"run"}, "DIR", dir_);
  expect_usage_error({"compact", dir()}, "unknown command 'compact'", dir_);
}

TEST_F(statestore_cli, completed_run_verifies_and_resumes_where_it_stopped) {
  complete_run(3000);
  auto v = run_tool({"verify", dir()});
  ASSERT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("OK: "), std::string::npos) << v.output;
  EXPECT_NE(v.output.find("partition 2: offset 3000"), std::string::npos) << v.output;

  // The stored parameters are taken when none are given, and agree when they are.
  const auto again = run_tool({"run", dir(), "--events", "5000", "--users", "50"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("partition 1 resumes at offset 3000"), std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("done: 6000 events"), std::string::npos) << again.output;
  v = run_tool({"verify", dir(), "--seed", "7"});
  ASSERT_EQ(v.exit_code, 0) << v.output;

  // The store holds exactly the fold of each partition's 5000 events, checked here apart from
  // the tool's own verify.
  store m(dir_);
  const ss::config c{50, 3, 7};
  EXPECT_EQ(m.find(std::string(ss::config_key)), ss::encode_config(c));
  std::size_t users = 0;
  for (std::uint64_t p = 0; p < 3; ++p) {
    ASSERT_EQ(m.find(ss::offset_key(p)), ss::encode_offset(5000)) << "partition " << p;
    const auto want = ss::fold(c, p, 5000);
    for (std::uint64_t i = 0; i < want.size(); ++i) {
      const auto have = m.find(ss::user_key(p + i * 3));
      if (want[i].events == 0) {
        EXPECT_FALSE(have.has_value()) << ss::user_key(p + i * 3);
        continue;
      }
      ++users;
      ASSERT_TRUE(have.has_value()) << ss::user_key(p + i * 3);
      EXPECT_EQ(ss::decode_state(*have), want[i]) << ss::user_key(p + i * 3);
    }
  }
  EXPECT_EQ(m.size(), users + 3 + 1);  // the users, the offsets and the config
}

TEST_F(statestore_cli, verify_names_a_tampered_user) {
  complete_run(2000);
  const ss::config c{50, 3, 7};
  // A user that the fold touches, of partition 1.
  const auto states = ss::fold(c, 1, 2000);
  std::uint64_t user = 0;
  for (std::uint64_t i = 0; i < states.size(); ++i) {
    if (states[i].events != 0) {
      user = 1 + i * 3;
      break;
    }
  }
  {
    store m(dir_);
    auto s = ss::decode_state(*m.find(ss::user_key(user)));
    s.score += 1;
    m.insert_or_assign(ss::user_key(user), ss::encode_state(s));
  }
  auto v = run_tool({"verify", dir()});
  EXPECT_EQ(v.exit_code, 1) << v.output;
  EXPECT_NE(v.output.find("MISMATCH " + ss::user_key(user) + ": stored score"),
            std::string::npos)
      << v.output;

  // Undone, the store verifies again; then a missing user and a key no run writes are named.
  {
    store m(dir_);
    auto s = ss::decode_state(*m.find(ss::user_key(user)));
    s.score -= 1;
    m.insert_or_assign(ss::user_key(user), ss::encode_state(s));
  }
  v = run_tool({"verify", dir()});
  ASSERT_EQ(v.exit_code, 0) << "the repair should verify:\n" << v.output;
  {
    store m(dir_);
    m.erase(ss::user_key(user));
    m.insert_or_assign("uid:007", ss::encode_state({1, 1}));
  }
  v = run_tool({"verify", dir()});
  EXPECT_EQ(v.exit_code, 1) << v.output;
  EXPECT_NE(v.output.find(ss::user_key(user) + ": missing"), std::string::npos) << v.output;
  EXPECT_NE(v.output.find("unexpected key 'uid:007'"), std::string::npos) << v.output;
}

TEST_F(statestore_cli, other_parameters_on_a_second_run_are_refused) {
  complete_run(1000);
  auto r = run_tool({"run", dir(), "--users", "60", "--events", "2000"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("users=50 partitions=3 seed=7; --users 60 differs"), std::string::npos)
      << r.output;
  r = run_tool({"verify", dir(), "--partitions", "4"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--partitions 4 differs"), std::string::npos) << r.output;
  r = run_tool({"verify", dir(), "--seed", "8"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--seed 8 differs"), std::string::npos) << r.output;

  // The refused run wrote nothing: the store still verifies at offset 1000.
  r = run_tool({"verify", dir()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("partition 0: offset 1000"), std::string::npos) << r.output;
}

TEST_F(statestore_cli, a_store_that_does_not_open_exits_1_with_the_library_message) {
  // No store at all: verify does not create one.
  auto r = run_tool({"verify", dir()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cmap-statestore: " + dir()), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_)) << "verify created the directory";

  // A store held open by this process: the child cannot take its lock.
  complete_run(500);
  {
    store held(dir_);
    r = run_tool({"verify", dir()});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("cmap-statestore: " + dir()), std::string::npos) << r.output;
  }
  r = run_tool({"verify", dir()});
  EXPECT_EQ(r.exit_code, 0) << "released, the store opens again:\n" << r.output;
}

TEST_F(statestore_cli, a_corrupted_log_is_reported_with_its_file_and_offset) {
  // No checkpoint: every commit stays in the log, many records long, so that a byte flipped
  // a third of the way in lies inside a record followed by others (damage, not a torn tail).
  const auto run = run_tool({"run", dir(), "--events", "3000", "--users", "50", "--partitions",
                             "3", "--batch", "20", "--checkpoint-bytes", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  fs::path biggest;
  std::uintmax_t size = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_)) {
    if (e.is_regular_file() && e.file_size() > size) {
      size = e.file_size();
      biggest = e.path();
    }
  }
  ASSERT_GT(size, 10000u) << "the log should hold every commit";
  {
    std::fstream f(biggest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(size / 3));
    char b = 0;
    f.read(&b, 1);
    b = static_cast<char>(b ^ 0x5A);
    f.seekp(static_cast<std::streamoff>(size / 3));
    f.write(&b, 1);
  }
  const auto r = run_tool({"verify", dir()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(biggest.filename().string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" at byte "), std::string::npos) << r.output;
}

}  // namespace
