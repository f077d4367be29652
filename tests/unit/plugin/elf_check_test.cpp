// The file check that runs before dlopen: a real plugin passes; text, an empty file, a library
// for another machine and copies of a real plugin cut anywhere (each eighth of its size, and one
// byte short) are refused, so none of them ever reaches dlopen, where a truncated file raises
// SIGBUS.
#include <gtest/gtest.h>

#include <elf.h>

#include <fstream>

#include "plugin/elf_check.hpp"
#include "plugins/plugin_folder.hpp"

namespace nanolab::plugin {
namespace {

TEST(ElfCheck, AcceptsARealPlugin) {
  EXPECT_EQ(elf_problem(test::fixture_plugin("fixture_bytes")), std::nullopt);
}

TEST(ElfCheck, RefusesNonLibraries) {
  test::PluginFolder folder;
  EXPECT_EQ(elf_problem(folder.add_text("text.so", "hello")), "not a shared library (no ELF header)");
  EXPECT_EQ(elf_problem(folder.add_text("empty.so", "")), "not a shared library (no ELF header)");
  auto gone = elf_problem(folder.path() / "missing.so");
  ASSERT_TRUE(gone);
  EXPECT_NE(gone->find("cannot read its size"), std::string::npos);
}

TEST(ElfCheck, RefusesAnotherMachine) {
  test::PluginFolder folder;
  auto copy = folder.add(test::fixture_plugin("fixture_bytes"));
#if defined(__riscv)
  const uint16_t other = EM_X86_64;
#else
  const uint16_t other = EM_RISCV;
#endif
  std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offsetof(Elf64_Ehdr, e_machine));  // same offset in 32-bit headers
  f.write(reinterpret_cast<const char*>(&other), sizeof other);
  f.close();
  auto problem = elf_problem(copy);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("built for another machine (ELF machine " + std::to_string(other)),
            std::string::npos) << *problem;
}

TEST(ElfCheck, RefusesEveryTruncation) {
  test::PluginFolder folder;
  const auto real = test::fixture_plugin("fixture_bytes");
  const auto size = std::filesystem::file_size(real);
  for (int eighth = 0; eighth <= 8; ++eighth) {
    auto name = "cut" + std::to_string(eighth) + ".so";
    // eighth 8 is one byte short of the whole file
    double fraction = eighth < 8 ? eighth / 8.0 : double(size - 1) / double(size);
    auto problem = elf_problem(folder.add_truncated(real, name, fraction));
    ASSERT_TRUE(problem) << name;
    if (eighth > 0) {
      EXPECT_EQ(problem->rfind("truncated: ", 0), 0u) << name << ": " << *problem;
    }
  }
}

}  // namespace
}  // namespace nanolab::plugin
