# The eBPF ISA conformance suite, run through embpf-plugin as the public runner would.
set(EMBPF_CONFORMANCE_DIR "${PROJECT_SOURCE_DIR}/../shared/conformance"
    CACHE PATH "Directory of the conformance .data cases")
add_executable(embpf_conformance ${CMAKE_CURRENT_LIST_DIR}/run_conformance.cpp)
embpf_set_warnings(embpf_conformance)
# The suite ships beside the repository (../shared/conformance); without it the tests skip (exit 77), except under
# CI (CI=true) when ../shared is there: then a missing suite is a failure, as is a run that finds no case.
set(_embpf_conformance embpf_conformance $<TARGET_FILE:embpf_plugin> ${EMBPF_CONFORMANCE_DIR} --required-in-ci
                       ${PROJECT_SOURCE_DIR}/../shared)
if(TARGET embpf_plugin)
    # The checked and the unchecked (fast) loops, each with computed-goto and with portable switch dispatch.
    add_test(NAME conformance_interpreter COMMAND ${_embpf_conformance} -- --engine interpreter)
    add_test(NAME conformance_interpreter_fast COMMAND ${_embpf_conformance} -- --mode fast)
    add_test(NAME conformance_interpreter_portable COMMAND ${_embpf_conformance} -- --portable-dispatch)
    add_test(NAME conformance_interpreter_fast_portable COMMAND ${_embpf_conformance} -- --mode fast
                                                                --portable-dispatch)
    # The baseline JIT, and the same with constant blinding.
    add_test(NAME conformance_jit COMMAND ${_embpf_conformance} -- --engine jit)
    add_test(NAME conformance_jit_blinded COMMAND ${_embpf_conformance} -- --engine jit --blind-constants)
    # Metered code (exec/engine.hpp) under a budget no case reaches: the same results as unmetered.
    add_test(NAME conformance_interpreter_fast_metered COMMAND ${_embpf_conformance} -- --mode fast
                                                               --instruction-budget 1000000000)
    add_test(NAME conformance_jit_metered COMMAND ${_embpf_conformance} -- --engine jit --instruction-budget 1000000000)
    # Automatic tiering: each case in the baseline JIT, then (in builds with LLVM) in the optimized code, which must
    # agree.
    add_test(NAME conformance_automatic COMMAND ${_embpf_conformance} -- --engine automatic)
    set_tests_properties(conformance_interpreter conformance_interpreter_fast conformance_interpreter_portable
                         conformance_interpreter_fast_portable conformance_jit conformance_jit_blinded
                         conformance_interpreter_fast_metered conformance_jit_metered conformance_automatic
                         PROPERTIES SKIP_RETURN_CODE 77)
    # Ahead-of-time compiled C (the system's C compiler, cc, -Wall -Wextra -Werror), the same C built with GCC's
    # undefined-behaviour sanitizer, which must find nothing, and built by clang. Each case's shared object is cached
    # by its code and how it is built.
    add_test(NAME conformance_aot COMMAND ${_embpf_conformance} -- --engine aot)
    add_test(NAME conformance_aot_ubsan COMMAND ${_embpf_conformance} -- --engine aot)
    add_test(NAME conformance_aot_clang COMMAND ${_embpf_conformance} -- --engine aot)
    set_tests_properties(conformance_aot PROPERTIES SKIP_RETURN_CODE 77)
    set_tests_properties(conformance_aot_clang PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT "EMBPF_CC=clang")
    set_tests_properties(conformance_aot_ubsan PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT
                         "EMBPF_CC=gcc;EMBPF_AOT_CFLAGS=-fsanitize=undefined -fno-sanitize-recover=all")
    # The optimizing JIT, in builds that have it.
    if(EMBPF_HAVE_LLVM)
        add_test(NAME conformance_optimized COMMAND ${_embpf_conformance} -- --engine optimized)
        add_test(NAME conformance_optimized_metered COMMAND ${_embpf_conformance} -- --engine optimized
                                                            --instruction-budget 1000000000)
        set_tests_properties(conformance_optimized conformance_optimized_metered PROPERTIES SKIP_RETURN_CODE 77)
    endif()
endif()
