// Option and workload-file parsing: every bad input gives exit status 2, one message naming
// the problem, and leaves no output file behind.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "test_util.hpp"
#include "workload.hpp"

namespace cmap_bench {
namespace {

using testing::run_cli;
using testing::temp_dir;

struct bad_case {
  std::vector<std::string> args;
  std::string message;  // a part of the expected message
};

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

TEST(Parse, BadInputsExitWith2AndLeaveNoFile) {
  temp_dir dir;
  const std::string bad_json = dir.file("bad.json");
  write(bad_json, "{\"ops\": 1000, \"mix\": {\"find\": 100}");  // unterminated
  // Well-formed JSON syntax, but a number no double holds: nlohmann throws out_of_range,
  // not parse_error (found by fuzz_cmap_bench_workload; cmap-bench used to abort on it).
  const std::string huge_number = dir.file("huge.json");
  write(huge_number, R"({"preload": 1e999})");
  const std::string unknown_field = dir.file("unknown.json");
  write(unknown_field, R"({"ops": 1000, "mixx": {"find": 100}})");
  const std::string contradictory = dir.file("contra.json");
  write(contradictory, R"({"ops": 1000, "duration_ms": 100, "mix": {"find": 100}})");
  const std::string bad_mix = dir.file("mix.json");
  write(bad_mix, R"({"mix": {"find": 60, "update": 30}})");
  const std::string bad_type = dir.file("type.json");
  write(bad_type, R"({"threads": "two"})");
  const std::string bad_op = dir.file("op.json");
  write(bad_op, R"({"mix": {"fnd": 100}})");
  const std::string empty_reads = dir.file("empty.json");
  write(empty_reads, R"({"mix": {"find": 100}, "preload": 0})");
  const std::string key_length_u64 = dir.file("klen.json");
  write(key_length_u64, R"({"key_type": "u64", "key_length": 12})");
  const std::string flood = dir.file("flood.json");
  write(flood, R"({"preset": "hash-flood", "key_universe": 500})");
  const std::string flood_ops = dir.file("flood-ops.json");
  write(flood_ops, R"({"preset": "hash-flood", "key_universe": 500, "ops": 5000})");
  const std::size_t inputs = dir.entries();

  const std::vector<bad_case> cases = {
      {{"--preset", "read-hevy"}, "unknown preset 'read-hevy'"},
      {{"--preset", "read-heavy", "--maps", "nosuchmap"}, "unknown map 'nosuchmap'"},
      {{"--preset", "read-heavy", "--maps", "sharded_map:3"}, "power of two"},
      {{"--preset", "read-heavy", "--maps", "locked_map:4"}, "takes no ':N' variant"},
      {{"--preset", "read-heavy", "--threads", "0"}, "thread count 0"},
      {{"--preset", "read-heavy", "--value-size", "7"}, "value_size 7"},
      {{"--preset", "read-heavy", "--preload", "2"}, "preload 2"},
      {{"--preset", "read-heavy", "--ops", "10", "--duration-ms", "10"}, "contradict"},
      {{"--preset", "read-heavy", "--dist", "pareto"}, "unknown key distribution 'pareto'"},
      {{"--preset", "read-heavy", "--mix", "find=50"}, "adds up to 50%"},
      {{"--preset", "read-heavy", "--key-type", "float"}, "--key-type 'float'"},
      {{"--preset", "read-heavy", "--baseline", "nosuchmap"}, "--baseline 'nosuchmap'"},
      {{"--preset", "read-heavy", "--reps", "0"}, "repetitions 0"},
      {{"--preset", "read-heavy", "--reps", "2"}, "repetitions 2 is out of range (3 to 100)"},
      {{"--preset", "read-heavy", "--csv", dir.file("missing/out.csv")}, "does not exist"},
      {{"--standard", "--preset", "read-heavy"}, "cannot be combined"},
      {{}, "nothing to run"},
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--workload", dir.file("absent.json")}, "cannot open workload file"},
      {{"--workload", bad_json}, "malformed JSON"},
      {{"--workload", huge_number}, "malformed JSON"},
      {{"--workload", unknown_field}, "unknown field 'mixx'"},
      {{"--workload", contradictory}, "contradict"},
      {{"--workload", bad_mix}, "adds up to 90%"},
      {{"--workload", bad_type}, "field 'threads'"},
      {{"--workload", bad_op}, "unknown operation 'fnd'"},
      {{"--workload", empty_reads}, "measures nothing"},
      {{"--workload", key_length_u64}, "'key_length' applies to string keys only"},
      {{"--preset", "hash-flood", "--ops", "100"}, "give --keys, not --ops"},
      {{"--preset", "hash-flood", "--duration-ms", "100"}, "give --keys, not --ops"},
      {{"--preset", "hash-flood", "--mix", "find=100"}, "do not apply to hash-flood"},
      {{"--preset", "hash-flood", "--value-size", "64"}, "8-byte values only"},
      {{"--preset", "hash-flood", "--keys", "200000"}, "at most 100000 keys"},
      {{"--workload", flood_ops}, "its ops are 2 * key_universe"},
      {{"advise", "--workload", flood}, "advise: hash-flood"},
      {{"advise"}, "--workload"},
      {{"advise", "--workload", bad_mix}, "adds up to 90%"},
  };
  for (const auto& c : cases) {
    auto args = c.args;
    for (const char* flag : {"--csv", "--json", "--report"}) {
      const bool given = std::find(args.begin(), args.end(), flag) != args.end();
      if (!given && (args.empty() || args[0] != "advise")) {
        args.push_back(flag);
        args.push_back(dir.file(std::string("out") + flag));
      }
    }
    std::string line;
    for (const auto& a : c.args) line += a + " ";
    const auto r = run_cli(args);
    EXPECT_EQ(r.status, 2) << line << "\nstderr: " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << line << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line expected: " << r.err;
    EXPECT_TRUE(r.out.empty()) << line << "\nstdout: " << r.out;
    EXPECT_EQ(dir.entries(), inputs) << line << ": an output file was left behind";
  }
}

TEST(Parse, WorkloadFileRoundTrip) {
  const auto j = nlohmann::json::parse(R"({
    "name": "sessions", "threads": [1, 2, 8], "ops": 5000, "key_universe": 2000,
    "key_type": "string", "key_length": 24, "value_size": 64,
    "mix": {"find": 90, "insert_or_assign": 5, "erase": 4, "for_each": 1},
    "distribution": {"type": "hotset", "hot_fraction": 0.1, "hot_probability": 0.8},
    "preload": 0.75, "seed": 9, "repetitions": 5})");
  const workload w = parse_workload_json(j, "test");
  EXPECT_EQ(w.name, "sessions");
  EXPECT_EQ(w.threads, (std::vector<unsigned>{1, 2, 8}));
  EXPECT_TRUE(w.string_keys);
  EXPECT_EQ(w.key_length, 24u);
  EXPECT_EQ(w.value_size, 64u);
  EXPECT_EQ(w.dist.type, key_dist::hotset);
  EXPECT_DOUBLE_EQ(w.dist.hot_fraction, 0.1);
  EXPECT_DOUBLE_EQ(w.mix[static_cast<int>(op_kind::for_each)], 1);
  EXPECT_EQ(w.repetitions, 5u);
  // Back through to_json (what --json records) and parse again, as is: the same workload.
  const auto again = to_json(w);
  const workload w2 = parse_workload_json(again, "round trip");
  EXPECT_EQ(w2.mix_string(), w.mix_string());
  EXPECT_EQ(w2.dist_string(), w.dist_string());
  EXPECT_EQ(w2.key_universe, w.key_universe);
  EXPECT_EQ(w2.description, w.description);
  EXPECT_EQ(to_json(w2), again);
}

TEST(Parse, PresetWithOverrides) {
  const auto j =
      nlohmann::json::parse(R"({"preset": "parallel-load", "key_universe": 1000, "ops": 10000,
                                          "distribution": "zipf:0.5"})");
  const workload w = parse_workload_json(j, "test");
  EXPECT_EQ(w.name, "parallel-load");
  EXPECT_EQ(w.key_universe, 1000u);
  EXPECT_DOUBLE_EQ(w.dist.theta, 0.5);
  EXPECT_EQ(w.preload, 0);
}

// hash-flood: a preset of its own kind; its ops follow the keys; --preset runs it with u64 and
// string keys unless --key-type picks one; a recorded workload reads back as hash-flood.
TEST(Parse, HashFloodPreset) {
  const workload w = preset("hash-flood");
  EXPECT_TRUE(w.hash_flood);
  EXPECT_EQ(w.key_universe, 20'000u);
  EXPECT_EQ(w.ops, 40'000u);
  EXPECT_EQ(w.threads, (std::vector<unsigned>{1, 2}));
  EXPECT_EQ(w.repetitions, 3u);
  const auto runs = preset_runs("hash-flood");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_FALSE(runs[0].string_keys);
  EXPECT_TRUE(runs[1].string_keys);
  EXPECT_EQ(runs[1].name, "hash-flood-string");
  EXPECT_EQ(preset_runs("read-heavy").size(), 1u);

  const workload smaller = parse_workload_json(
      nlohmann::json::parse(R"({"preset": "hash-flood", "key_universe": 500})"), "test");
  EXPECT_TRUE(smaller.hash_flood);
  EXPECT_EQ(smaller.ops, 1000u);
  const workload again = parse_workload_json(to_json(runs[1]), "round trip");
  EXPECT_TRUE(again.hash_flood);
  EXPECT_TRUE(again.string_keys);
  EXPECT_EQ(again.name, "hash-flood-string");
  EXPECT_EQ(to_json(again), to_json(runs[1]));
}

TEST(Parse, EveryPresetIsValidOrSaysWhyNot) {
  for (const auto& name : preset_names()) {
    const workload w = preset(name);
    if (w.unavailable.empty()) {
      EXPECT_NO_THROW(validate(w)) << name;
    } else {
      EXPECT_NE(w.unavailable.find("not available yet"), std::string::npos) << name;
    }
  }
  for (const auto& w : standard_suite()) {
    if (w.unavailable.empty()) {
      EXPECT_NO_THROW(validate(w)) << w.name;
    }
  }
}

TEST(Parse, ListAndHelp) {
  const auto list = run_cli({"--list"});
  EXPECT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("locked_map"), std::string::npos);
  EXPECT_NE(list.out.find("std_shared_mutex"), std::string::npos);
  EXPECT_NE(list.out.find("cow-vs-persistent"), std::string::npos);
  // What runs without --maps: not the variants, and not libcds under --standard.
  EXPECT_NE(list.out.find("without --maps: every map above but the [variant] ones; --standard "
                          "leaves out libcds_split_list too"),
            std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("cow_map"), std::string::npos);
  EXPECT_EQ(list.out.find("article"), std::string::npos) << list.out;
  const auto help = run_cli({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--workload"), std::string::npos);
  EXPECT_EQ(help.out.find("(default: all)"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("[variant] mark"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("libcds_split_list"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("results"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("hash-flood"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--hash-seed"), std::string::npos) << help.out;
  EXPECT_NE(list.out.find("hash-flood"), std::string::npos) << list.out;
}

// TOML workload files go through the JSON path's validation: each bad TOML file gets the same
// message as the equivalent JSON file (its path aside), exit status 2, and leaves no file.
TEST(Parse, TomlWorkloadFiles) {
  temp_dir dir;
  if (!toml_supported()) {
    write(dir.file("w.toml"), "ops = 1000\n");
    const auto r = run_cli({"--workload", dir.file("w.toml")});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("TOML support not compiled in; use JSON"), std::string::npos) << r.err;
    return;
  }
  // A good file reads as the same workload as its JSON twin.
  write(dir.file("good.toml"), R"(name = "sessions"
threads = [1, 2, 8]
ops = 5000
key_universe = 2000
key_type = "string"
key_length = 24
value_size = 64
preload = 0.75
seed = 9
repetitions = 5
[mix]
find = 90
insert_or_assign = 5
erase = 4
for_each = 1
[distribution]
type = "hotset"
hot_fraction = 0.1
hot_probability = 0.8
)");
  write(dir.file("good.json"), R"({
    "name": "sessions", "threads": [1, 2, 8], "ops": 5000, "key_universe": 2000,
    "key_type": "string", "key_length": 24, "value_size": 64,
    "mix": {"find": 90, "insert_or_assign": 5, "erase": 4, "for_each": 1},
    "distribution": {"type": "hotset", "hot_fraction": 0.1, "hot_probability": 0.8},
    "preload": 0.75, "seed": 9, "repetitions": 5})");
  const workload t = load_workload_file(dir.file("good.toml"));
  const workload j = load_workload_file(dir.file("good.json"));
  EXPECT_EQ(to_json(t), to_json(j));
  EXPECT_EQ(t.name, "sessions");
  EXPECT_EQ(t.threads, (std::vector<unsigned>{1, 2, 8}));
  EXPECT_EQ(t.key_length, 24u);
  EXPECT_EQ(t.dist.type, key_dist::hotset);

  // Bad files, as TOML and as JSON: the same message.
  const std::vector<std::pair<std::string, std::string>> twins = {
      {"ops = 1000\nmixx = { find = 100 }\n", R"({"ops": 1000, "mixx": {"find": 100}})"},
      {"ops = 1000\nduration_ms = 100\nmix = { find = 100 }\n",
       R"({"ops": 1000, "duration_ms": 100, "mix": {"find": 100}})"},
      {"mix = { find = 60, update = 30 }\n", R"({"mix": {"find": 60, "update": 30}})"},
      {"threads = \"two\"\n", R"({"threads": "two"})"},
      {"threads = [1, -2]\n", R"({"threads": [1, -2]})"},
      {"ops = -5\n", R"({"ops": -5})"},
      {"preload = 0.5\nmix = { fnd = 100 }\n", R"({"preload": 0.5, "mix": {"fnd": 100}})"},
      {"key_type = \"u64\"\nkey_length = 12\n", R"({"key_type": "u64", "key_length": 12})"},
      {"repetitions = 2\n", R"({"repetitions": 2})"},
      {"preset = \"no-such-preset\"\n", R"({"preset": "no-such-preset"})"},
      {"seed = 1979-05-27\n", R"({"seed": "1979-05-27"})"},
  };
  int n = 0;
  for (const auto& [toml_text, json_text] : twins) {
    const std::string base = "bad" + std::to_string(n++);
    write(dir.file(base + ".toml"), toml_text);
    write(dir.file(base + ".json"), json_text);
    const std::size_t inputs = dir.entries();
    const auto rt = run_cli({"--workload", dir.file(base + ".toml"), "--json", dir.file("o.json")});
    const auto rj = run_cli({"--workload", dir.file(base + ".json"), "--json", dir.file("o.json")});
    EXPECT_EQ(rt.status, 2) << toml_text << rt.err;
    EXPECT_EQ(rj.status, 2) << json_text << rj.err;
    std::string from_toml = rt.err;
    // Messages about the file name it; those about the workload name the workload.
    if (const auto at = from_toml.find(base + ".toml"); at != std::string::npos)
      from_toml.replace(at, base.size() + 5, base + ".json");
    EXPECT_EQ(from_toml, rj.err) << toml_text;
    EXPECT_EQ(rt.err.find('\n'), rt.err.size() - 1) << "one line expected: " << rt.err;
    EXPECT_EQ(dir.entries(), inputs) << toml_text << ": an output file was left behind";
  }

  // Malformed TOML: where, and exit status 2.
  write(dir.file("broken.toml"), "ops = 1000\nmix = { find = 100\n");
  const auto r = run_cli({"--workload", dir.file("broken.toml")});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("broken.toml: malformed TOML: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(line 2, column "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line expected: " << r.err;
}

}  // namespace
}  // namespace cmap_bench
