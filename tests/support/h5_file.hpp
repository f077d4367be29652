// Test helper: a read-only HDF5 file of reference values (the PyTorch fixtures in tests/fixtures/)
// read with HDF5's C API: datasets as float or int32 vectors (HDF5 converts the stored type), the
// number of members of a group, and integer attributes. For test fixtures only: nanolab's own
// files are read by framework/src/store/.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace nanolab::test {

class H5File {
 public:
  explicit H5File(const std::string& path)
      : path_(path), file_(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {
    if (file_ < 0) throw std::runtime_error("cannot open " + path);
  }
  ~H5File() { H5Fclose(file_); }
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;

  bool has(const std::string& path) const {
    return H5Lexists(file_, path.c_str(), H5P_DEFAULT) > 0;
  }

  template <class T>
  std::vector<T> read(const std::string& path) const {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, int32_t>);
    hid_t d = H5Dopen2(file_, path.c_str(), H5P_DEFAULT);
    if (d < 0) throw std::runtime_error(path_ + ": no dataset " + path);
    hid_t space = H5Dget_space(d);
    std::vector<T> v(size_t(H5Sget_simple_extent_npoints(space)));
    H5Dread(d, std::is_same_v<T, float> ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32, H5S_ALL, H5S_ALL,
            H5P_DEFAULT, v.data());
    H5Sclose(space);
    H5Dclose(d);
    return v;
  }

  size_t children(const std::string& group) const {
    H5G_info_t info{};
    H5Gget_info_by_name(file_, group.c_str(), &info, H5P_DEFAULT);
    return size_t(info.nlinks);
  }

  int64_t attr(const std::string& object, const std::string& name) const {
    int64_t v = 0;
    hid_t a = H5Aopen_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    return v;
  }

 private:
  std::string path_;
  hid_t file_;
};

}  // namespace nanolab::test
