# install(EXPORT) with config and version files, so that find_package(embpf) works.
include(CMakePackageConfigHelpers)

set(_embpf_exported embpf embpf_compat_library embpf_plugin_headers)
if(TARGET embpf_cli)
    list(APPEND _embpf_exported embpf_cli) # embpf::cli, the tool embpf_add_plugin verifies with
endif()
install(TARGETS ${_embpf_exported} EXPORT embpfTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT embpfTargets NAMESPACE embpf:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/embpf)
configure_package_config_file(cmake/embpfConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/embpfConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/embpf)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/embpfConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/embpfConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/embpfConfigVersion.cmake
              ${CMAKE_CURRENT_SOURCE_DIR}/cmake/Findlibelf.cmake ${CMAKE_CURRENT_SOURCE_DIR}/cmake/EmbpfPlugin.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/embpf)

# pkg-config, for hosts built without CMake: the static library and what it links (libelf, threads and, in builds
# with the optimizing JIT, LLVM 19).
set(EMBPF_PC_LIBS "-lembpf -lelf -lpthread")
if(EMBPF_HAVE_LLVM)
    string(APPEND EMBPF_PC_LIBS " ${EMBPF_LLVM_LIBRARY}")
endif()
# Relocatable: the prefix is found from the file's own place, as `cmake --install --prefix` may choose another.
file(RELATIVE_PATH EMBPF_PC_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" EMBPF_PC_PREFIX "${EMBPF_PC_PREFIX}")
configure_file(cmake/embpf.pc.in ${CMAKE_CURRENT_BINARY_DIR}/embpf.pc @ONLY)
configure_file(cmake/embpf-compat.pc.in ${CMAKE_CURRENT_BINARY_DIR}/embpf-compat.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/embpf.pc ${CMAKE_CURRENT_BINARY_DIR}/embpf-compat.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
