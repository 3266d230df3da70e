# Capstone for the JIT's encoding tests (tests/exec/test_jit.cpp): they disassemble the machine code the JIT emits.
# Optional: without it those tests compile out and the rest of the JIT tests still run.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
    pkg_check_modules(EMBPF_CAPSTONE QUIET IMPORTED_TARGET capstone)
endif()
if(EMBPF_CAPSTONE_FOUND)
    target_link_libraries(embpf_tests PRIVATE PkgConfig::EMBPF_CAPSTONE)
    target_compile_definitions(embpf_tests PRIVATE EMBPF_HAVE_CAPSTONE=1)
    message(STATUS "embpf tests: Capstone ${EMBPF_CAPSTONE_VERSION} found, the JIT encoding tests run")
else()
    message(STATUS "embpf tests: Capstone not found (pkg-config capstone), the JIT encoding tests are skipped")
endif()
