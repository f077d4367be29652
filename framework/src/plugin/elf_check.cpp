// Reads the ELF header and program headers with plain reads (never mmap, which is what would
// fault) and compares every offset they give against the file's size. Native ELF class and byte
// order only: a plugin must match the host process anyway.
#include "plugin/elf_check.hpp"

#include <elf.h>
#include <link.h>

#include <cstring>
#include <fstream>
#include <vector>

namespace nanolab::plugin {
namespace {

#if defined(__x86_64__)
constexpr int host_machine = EM_X86_64;
#elif defined(__aarch64__)
constexpr int host_machine = EM_AARCH64;
#elif defined(__i386__)
constexpr int host_machine = EM_386;
#elif defined(__powerpc64__)
constexpr int host_machine = EM_PPC64;
#elif defined(__riscv)
constexpr int host_machine = EM_RISCV;
#else
#error "elf_check: add this machine's EM_ value"
#endif

constexpr unsigned char host_class = __ELF_NATIVE_CLASS == 64 ? ELFCLASS64 : ELFCLASS32;
constexpr unsigned char host_data =
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;

// True when [offset, offset + count * entry_size) lies inside a file of `size` bytes, computed
// without overflow (the numbers come from an untrusted file).
bool fits(uint64_t offset, uint64_t count, uint64_t entry_size, uint64_t size) {
  if (offset > size) return false;
  if (entry_size != 0 && count > (size - offset) / entry_size) return false;
  return true;
}

std::string end_text(uint64_t offset, uint64_t bytes) {
  return std::to_string(offset) + " + " + std::to_string(bytes);
}

}  // namespace

std::optional<std::string> elf_problem(const std::filesystem::path& file) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) return "cannot read its size: " + ec.message();
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot be opened for reading";

  ElfW(Ehdr) ehdr;
  in.read(reinterpret_cast<char*>(&ehdr), sizeof ehdr);
  const bool has_magic = in.gcount() >= SELFMAG && std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) == 0;
  if (!has_magic) return "not a shared library (no ELF header)";
  if (size_t(in.gcount()) < sizeof ehdr)
    return "truncated: " + std::to_string(size) + " bytes, shorter than an ELF header";
  if (ehdr.e_ident[EI_CLASS] != host_class)
    return std::string("built for ") + (ehdr.e_ident[EI_CLASS] == ELFCLASS32 ? "32" : "64") +
           "-bit code; this process is " + std::to_string(__ELF_NATIVE_CLASS) + "-bit";
  if (ehdr.e_ident[EI_DATA] != host_data) return "built for the other byte order";
  if (ehdr.e_machine != host_machine)
    return "built for another machine (ELF machine " + std::to_string(ehdr.e_machine) +
           ", this host is " + std::to_string(host_machine) + ")";
  if (ehdr.e_type != ET_DYN)
    return "an ELF file but not a shared library (ELF type " + std::to_string(ehdr.e_type) + ")";

  if (ehdr.e_phnum == 0 || ehdr.e_phentsize != sizeof(ElfW(Phdr)))
    return "damaged ELF header (no valid program header table)";
  if (!fits(ehdr.e_phoff, ehdr.e_phnum, ehdr.e_phentsize, size))
    return "truncated: " + std::to_string(size) + " bytes, its program headers end at " +
           end_text(ehdr.e_phoff, uint64_t(ehdr.e_phnum) * ehdr.e_phentsize);
  if (ehdr.e_shoff != 0 && !fits(ehdr.e_shoff, ehdr.e_shnum, ehdr.e_shentsize, size))
    return "truncated: " + std::to_string(size) + " bytes, its section header table ends at " +
           end_text(ehdr.e_shoff, uint64_t(ehdr.e_shnum) * ehdr.e_shentsize);

  // The segments dlopen maps: a stripped library has no section headers, so these are checked
  // on their own.
  std::vector<ElfW(Phdr)> phdrs(ehdr.e_phnum);
  in.seekg(std::streamoff(ehdr.e_phoff));
  in.read(reinterpret_cast<char*>(phdrs.data()), std::streamsize(phdrs.size() * sizeof phdrs[0]));
  if (!in) return "cannot read its program headers";
  for (const auto& ph : phdrs) {
    if (ph.p_type == PT_LOAD && !fits(ph.p_offset, 1, ph.p_filesz, size))
      return "truncated: " + std::to_string(size) + " bytes, a loadable segment ends at " +
             end_text(ph.p_offset, ph.p_filesz);
  }
  return std::nullopt;
}

}  // namespace nanolab::plugin
