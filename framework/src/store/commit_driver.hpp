// The commit driver: an HDF5 file driver (VFD) for run.h5 under which a write that fails (a full
// disk, a file-size limit, an I/O error) leaves the file as it was after its last commit.
//
// HDF5 updates a file in place: a flush rewrites object headers, B-tree nodes, heaps and the
// superblock, and allocates new space at the end. When some of those writes fail, the file on
// disk holds a mix of old and new metadata that HDF5 can no longer read ("address of object past
// end of allocation", "addr overflow"). Under this driver HDF5's writes only fill 4 KiB pages in
// memory; reads see them. H5Fflush and H5Fclose commit the pages in an order that can fail
// without damage:
//   1. the file is first extended (with zeros) to hold every new page plus a reserve. A full
//      disk or a file-size limit fails here, before a byte of the file's content has changed;
//      the extension is cut off again.
//   2. pages past the old end of the file are written (into space step 1 allocated);
//   3. pages inside the old file are overwritten, the superblock's page last. These writes need
//      no new disk space (on a filesystem that overwrites in place: not btrfs or ZFS), so only a
//      true I/O error can fail one; the old contents of every page written so far are then put
//      back.
// A failed commit leaves the driver broken: later writes stay in memory, so that HDF5 can close
// its handles, and never reach the disk.
//
// The reserve (reserve_bytes of zeros past HDF5's end of allocation; readers ignore them) is
// space kept for the one write that must succeed after a failure: marking the run `failed`.
// A file opened with `spend_reserve` may use it; any other commit first grows it back.
//
// Test hook: NANOLAB_FAULT_WRITE=<n> makes the n-th write of the driver in this process (counting
// from 1, extension writes included) fail with EIO, once: an I/O error at an exact point. It
// reaches HDF5's own metadata writes, which a hook in the store's code could not.
#pragma once

#include <hdf5.h>

#include <cstdint>

namespace nanolab::store {

inline constexpr uint64_t reserve_bytes = 64 * 1024;

// Makes files opened with `fapl` go through the commit driver; < 0 if HDF5 refused.
herr_t use_commit_driver(hid_t fapl, bool spend_reserve);

}  // namespace nanolab::store
