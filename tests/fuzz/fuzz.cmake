# The AOT engine's fuzzing campaign (fuzz_aot.cpp): no libFuzzer target, since each input would cost a run of the C
# compiler, but batches of programs from random seeds, their C built a few files at a time; built with the tests. The
# ctest runs a short campaign (its seeds printed first); tools/fuzz.sh runs it for its time as the target "aot".
add_executable(embpf_fuzz_aot ${CMAKE_CURRENT_LIST_DIR}/fuzz_aot.cpp)
target_link_libraries(embpf_fuzz_aot PRIVATE embpf::embpf)
embpf_set_warnings(embpf_fuzz_aot)
add_test(NAME fuzz_aot COMMAND embpf_fuzz_aot --programs 256 --seed 1)

# libFuzzer targets, one per input surface, built with clang when EMBPF_BUILD_FUZZERS is ON.
if(NOT EMBPF_BUILD_FUZZERS)
    return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "EMBPF_BUILD_FUZZERS needs clang (libFuzzer)")
endif()
foreach(target fuzz_elf fuzz_asm fuzz_interpreter fuzz_verifier fuzz_jit fuzz_platform)
    add_executable(embpf_${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.cpp)
    target_link_libraries(embpf_${target} PRIVATE embpf::embpf)
    target_link_options(embpf_${target} PRIVATE -fsanitize=fuzzer)
    embpf_set_warnings(embpf_${target})
endforeach()
