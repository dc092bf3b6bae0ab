// USDT probes: every probe of provider cmap is in this executable's .note.stapsdt with its
// semaphore (or none is, where the probes are compiled out); the calls give the same results,
// exceptions included, on the path taken while a tracer is attached (simulated by raising the
// semaphores, as a tracer does); and the name tables agree with the codes.

#include <elf.h>
#include <gtest/gtest.h>

#include <cmap/art_map.hpp>
#include <cmap/checked_map.hpp>
#include <cmap/concurrent_hash_map.hpp>
#include <cmap/detail/probe_names.hpp>
#include <cmap/detail/probes.hpp>
#include <cmap/durable_map.hpp>
#include <cmap/locked_map.hpp>
#include <cmap/serial_map.hpp>
#include <cmap/sharded_map.hpp>
#include <cmap/snapshot_map.hpp>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../durable/temp_directory.hpp"

namespace {

using cmap::detail::map_operation;
using cmap::detail::probe_op;

struct note_probe {
  std::string provider, name;
  std::uint64_t semaphore = 0;
};

// The stapsdt notes of an ELF64 file: (provider, name, semaphore address) per probe site.
std::vector<note_probe> stapsdt_notes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (image.size() < sizeof(Elf64_Ehdr)) throw std::runtime_error("not an ELF file: " + path);
  Elf64_Ehdr eh;
  std::memcpy(&eh, image.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
    throw std::runtime_error("not an ELF64 file: " + path);
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  std::memcpy(sections.data(), image.data() + eh.e_shoff, eh.e_shnum * sizeof(Elf64_Shdr));
  const Elf64_Shdr& names = sections.at(eh.e_shstrndx);
  std::vector<note_probe> out;
  for (const Elf64_Shdr& s : sections) {
    if (std::strcmp(image.data() + names.sh_offset + s.sh_name, ".note.stapsdt") != 0) continue;
    std::size_t at = s.sh_offset;
    const std::size_t end = s.sh_offset + s.sh_size;
    const auto align4 = [](std::size_t n) { return (n + 3) & ~std::size_t{3}; };
    while (at + sizeof(Elf64_Nhdr) <= end) {
      Elf64_Nhdr nh;
      std::memcpy(&nh, image.data() + at, sizeof nh);
      const char* name = image.data() + at + sizeof nh;
      const char* desc = name + align4(nh.n_namesz);
      if (nh.n_type == 3 && std::strcmp(name, "stapsdt") == 0) {
        note_probe p;
        std::memcpy(&p.semaphore, desc + 16, 8);  // after the probe's address and the base
        p.provider = desc + 24;
        p.name = desc + 24 + p.provider.size() + 1;
        out.push_back(p);
      }
      at += sizeof nh + align4(nh.n_namesz) + align4(nh.n_descsz);
    }
  }
  return out;
}

// Every probe this library defines; the maps this test uses instantiate a site of each.
const std::set<std::string> all_probes = {
    "op_begin",   "op_end",  "lock_wait_begin", "lock_wait_end", "resize_begin",
    "resize_end", "reclaim", "violation",       "serial_batch",  "log_sync"};

// Raises the given semaphores for its lifetime, as an attached tracer does.
class attached {
 public:
  attached() {
#if CMAP_DETAIL_PROBES
    for (volatile unsigned short* s : semaphores()) *s = static_cast<unsigned short>(*s + 1);
#endif
  }
  attached(const attached&) = delete;
  attached& operator=(const attached&) = delete;
  ~attached() {
#if CMAP_DETAIL_PROBES
    for (volatile unsigned short* s : semaphores()) *s = static_cast<unsigned short>(*s - 1);
#endif
  }

 private:
#if CMAP_DETAIL_PROBES
  static std::vector<volatile unsigned short*> semaphores() {
    return {&cmap_op_begin_semaphore,        &cmap_op_end_semaphore,
            &cmap_lock_wait_begin_semaphore, &cmap_lock_wait_end_semaphore,
            &cmap_resize_begin_semaphore,    &cmap_resize_end_semaphore,
            &cmap_reclaim_semaphore,         &cmap_violation_semaphore,
            &cmap_serial_batch_semaphore,    &cmap_log_sync_semaphore};
  }
#endif
};

// Every single-key call of the common surface, with results checked against a std::map model;
// run once with no tracer and once "attached", the outcomes must be the same.
template <class Map>
std::vector<std::string> drive(Map& m) {
  std::vector<std::string> log;
  const auto note = [&](auto&&... parts) {
    std::string s;
    ((s += std::to_string(parts), s += ' '), ...);
    log.push_back(s);
  };
  for (std::uint64_t k = 0; k < 200; ++k) note(m.insert(k, k * 10));
  for (std::uint64_t k = 0; k < 220; k += 7) {
    const std::optional<std::uint64_t> v = m.find(k);
    note(v.value_or(999), m.contains(k));
    note(m.visit(k, [&](const std::uint64_t& x) { note(x); }));
  }
  note(m.insert_or_assign(3, 33), m.insert_or_assign(300, 3));
  note(m.find_or_insert(4, 0).first, m.find_or_insert(400, 4).second);
  note(m.upsert(
           5, [](std::uint64_t& x) { x += 1; }, 0),
       m.upsert(
           500, [](std::uint64_t&) {}, 5));
  note(m.exchange(6, 66).value_or(0), m.exchange(600, 6).has_value());
  note(m.compare_exchange(7, 70, 77), m.compare_exchange(8, 1, 2));
  note(m.erase(9), m.erase(9000));
  note(m.extract(10).value_or(0), m.extract(10).has_value());
  note(m.compare_erase(11, 110), m.compare_erase(12, 1));
  note(m.visit(13, [](std::uint64_t& x) { x = 1313; }), m.find(13).value_or(0));
  note(m.size());
  return log;
}

template <class Map>
class probes_map_test : public ::testing::Test {};
using maps = ::testing::Types<
    cmap::concurrent_hash_map<std::uint64_t, std::uint64_t>,
    cmap::locked_map<std::uint64_t, std::uint64_t>, cmap::sharded_map<std::uint64_t, std::uint64_t>,
    cmap::snapshot_map<std::uint64_t, std::uint64_t>,
    cmap::serial_map<std::uint64_t, std::uint64_t>, cmap::art_map<std::uint64_t, std::uint64_t>>;
TYPED_TEST_SUITE(probes_map_test, maps);

TYPED_TEST(probes_map_test, calls_give_the_same_results_while_a_tracer_is_attached) {
  TypeParam plain;
  const std::vector<std::string> expected = drive(plain);
  TypeParam traced;
  const attached tracer;
  EXPECT_EQ(cmap::detail::op_probes_enabled(), cmap::detail::probes_enabled);
  EXPECT_EQ(drive(traced), expected);
}

// A value whose construction throws on demand: emplace's exception must pass through the
// probed path unchanged, and leave the map as it was.
struct fragile {
  static inline bool fail = false;
  std::string v;  // not trivially copyable: stored in a node, built in place
  explicit fragile(std::uint64_t x) : v(std::to_string(x)) {
    if (fail) throw std::runtime_error("fragile");
  }
  fragile(const fragile&) = default;
  fragile& operator=(const fragile&) = default;
};

TEST(probes, an_exception_passes_through_the_probed_path) {
  cmap::concurrent_hash_map<std::uint64_t, fragile> m;
  const attached tracer;
  ASSERT_TRUE(m.emplace(1, 1));
  fragile::fail = true;
  EXPECT_THROW((void)m.emplace(2, 2), std::runtime_error);
  fragile::fail = false;
  EXPECT_FALSE(m.contains(2));
  EXPECT_EQ(m.size(), 1U);
}

TEST(probes, checked_map_calls_and_reports_are_unchanged_while_attached) {
  int reports = 0;
  cmap::checked_map<std::uint64_t, std::uint64_t> m(
      cmap::violation_policy::call([&](const cmap::access_violation&) { ++reports; }));
  const attached tracer;
  for (std::uint64_t k = 0; k < 100; ++k) m[k] = k;
  EXPECT_EQ(m.size(), 100U);
  EXPECT_EQ(m.find(7)->second, 7U);
  EXPECT_EQ(m.at(8), 8U);  // a call returning a reference
  m.erase(7);
  EXPECT_EQ(m.count(7), 0U);
  m.clear();  // a call returning void
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(reports, 0);
}

TEST(probes, durable_map_writes_and_reopens_the_same_while_attached) {
  cmap_test::temp_directory dir("probes");
  {
    cmap::durable_map<std::uint64_t, std::uint64_t> m(dir.path());
    const attached tracer;
    for (std::uint64_t k = 0; k < 50; ++k) {
      EXPECT_TRUE(m.with(cmap::sync::group).insert(k, k + 1));
    }
    EXPECT_TRUE(m.erase(3));
    EXPECT_EQ(m.find(4), std::optional<std::uint64_t>(5));
  }
  cmap::durable_map<std::uint64_t, std::uint64_t> reopened(dir.path());
  EXPECT_EQ(reopened.size(), 49U);
  EXPECT_FALSE(reopened.contains(3));
  EXPECT_EQ(reopened.find(49), std::optional<std::uint64_t>(50));
}

TEST(probes, this_executable_carries_every_probe_with_its_semaphore) {
  const std::vector<note_probe> notes = stapsdt_notes("/proc/self/exe");
  std::map<std::string, std::set<std::uint64_t>> cmap_probes;
  for (const note_probe& p : notes) {
    if (p.provider == "cmap") cmap_probes[p.name].insert(p.semaphore);
  }
  if (!cmap::detail::probes_enabled) {
    EXPECT_TRUE(cmap_probes.empty()) << "probes compiled out, yet notes were found";
    return;
  }
  for (const std::string& name : all_probes) {
    ASSERT_TRUE(cmap_probes.contains(name)) << "no site of probe cmap:" << name;
    const std::set<std::uint64_t>& sems = cmap_probes[name];
    EXPECT_EQ(sems.size(), 1U) << "every site of cmap:" << name << " shares one semaphore";
    EXPECT_NE(*sems.begin(), 0U) << "cmap:" << name << " has no semaphore";
  }
  for (const auto& [name, sems] : cmap_probes) {
    EXPECT_TRUE(all_probes.contains(name)) << "undocumented probe cmap:" << name;
  }
}

TEST(probe_names, codes_and_names_agree) {
  using cmap::detail::probe_map_kind;
  using cmap::detail::probe_map_kind_name;
  using cmap::detail::probe_op_name;
  using cmap::detail::probe_op_writes;
  EXPECT_EQ(probe_map_kind_name(static_cast<unsigned>(probe_map_kind::checked_map)), "checked_map");
  EXPECT_EQ(probe_map_kind_name(static_cast<unsigned>(probe_map_kind::durable_map)), "durable_map");
  EXPECT_EQ(probe_map_kind_name(200), "unknown");
  EXPECT_EQ(probe_op_name(static_cast<unsigned>(probe_op::find)), "find");
  EXPECT_EQ(probe_op_name(static_cast<unsigned>(probe_op::compare_erase)), "compare_erase");
  EXPECT_EQ(probe_op_name(static_cast<unsigned>(map_operation::subscript)), "operator[]");
  EXPECT_EQ(probe_op_name(static_cast<unsigned>(map_operation::find)), "find");
  EXPECT_EQ(probe_op_name(250), "unknown");
  using cmap::detail::probe_lock_kind;
  using cmap::detail::probe_lock_kind_name;
  EXPECT_EQ(probe_lock_kind_name(static_cast<unsigned>(probe_lock_kind::spin_lock)), "spin_lock");
  EXPECT_EQ(probe_lock_kind_name(static_cast<unsigned>(probe_lock_kind::parking_lock)),
            "parking_lock");
  EXPECT_EQ(probe_lock_kind_name(99), "unknown");
  // Writes: checked_map's from insert to destroy, the common surface's all but the lookups.
  for (unsigned c = 0; c < static_cast<unsigned>(map_operation::count_); ++c) {
    const bool write = c >= static_cast<unsigned>(map_operation::insert) &&
                       c <= static_cast<unsigned>(map_operation::destroy);
    EXPECT_EQ(probe_op_writes(c), write) << probe_op_name(c);
  }
  EXPECT_FALSE(probe_op_writes(static_cast<unsigned>(probe_op::find)));
  EXPECT_FALSE(probe_op_writes(static_cast<unsigned>(probe_op::contains)));
  EXPECT_FALSE(probe_op_writes(static_cast<unsigned>(probe_op::visit)));
  EXPECT_TRUE(probe_op_writes(static_cast<unsigned>(probe_op::visit_mut)));
  EXPECT_TRUE(probe_op_writes(static_cast<unsigned>(probe_op::erase)));
  EXPECT_TRUE(probe_op_writes(static_cast<unsigned>(probe_op::insert_or_assign)));
}

}  // namespace
