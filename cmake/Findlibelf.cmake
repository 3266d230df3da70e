# Finds libelf (Debian: libelf-dev) and defines the imported target libelf::libelf.
find_path(LIBELF_INCLUDE_DIR NAMES libelf.h gelf.h)
find_library(LIBELF_LIBRARY NAMES elf)
find_library(LIBELF_ZLIB NAMES z) # a dependency of the static libelf
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(libelf REQUIRED_VARS LIBELF_LIBRARY LIBELF_INCLUDE_DIR)
if(libelf_FOUND AND NOT TARGET libelf::libelf)
    add_library(libelf::libelf UNKNOWN IMPORTED)
    set_target_properties(libelf::libelf PROPERTIES
        IMPORTED_LOCATION "${LIBELF_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${LIBELF_INCLUDE_DIR}")
endif()
mark_as_advanced(LIBELF_INCLUDE_DIR LIBELF_LIBRARY LIBELF_ZLIB)
