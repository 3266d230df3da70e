# install(EXPORT) with config and version files, so that find_package(embpf) works.
include(CMakePackageConfigHelpers)

install(TARGETS embpf embpf_plugin_headers EXPORT embpfTargets
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
              ${CMAKE_CURRENT_SOURCE_DIR}/cmake/Findlibelf.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/embpf)
